// The cost a client sees for a request (usage.cost on the stream's usage chunk, x-tokengate-cost on a
// whole answer) is the billed row that GET /account/usage/:requestId returns, through the openai SDK.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';
import { MOCK, settleAll } from '../proxy/support.js';

const env = useTestGateway();
const messages = [{ role: 'user' as const, content: 'Tell me about metering.' }];

async function client() {
  const account = await accountWithBalance(env.gw, 100_000);
  const key = await keyFor(env.gw, account);
  return { key, openai: new OpenAI({ baseURL: `${env.gw.url}/v1`, apiKey: key, maxRetries: 0 }) };
}

async function billedRow(key: string, requestId: string) {
  await settleAll(env.gw);
  const response = await env.gw.request('GET', `/account/usage/${requestId}`, { key });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as { cost: number; inputTokens: number; outputTokens: number; cachedInputTokens: number; stream: boolean; rates: unknown };
}

describe('usage.cost', () => {
  it('a stream with include_usage: the usage chunk carries cost, equal to the billed row and its price', async () => {
    const { key, openai } = await client();
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'mock', messages, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const usages: OpenAI.CompletionUsage[] = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toHaveLength(1);
    const usage = usages[0]! as OpenAI.CompletionUsage & { cost?: number };
    expect(usage.cost).toBe(chargeFor({ inputTokens: usage.prompt_tokens, cachedInputTokens: 0, outputTokens: usage.completion_tokens }, MOCK));

    const row = await billedRow(key, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ cost: usage.cost, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, stream: true });
    expect(row.rates).toEqual({ input: MOCK.input, cachedInput: MOCK.cachedInput, output: MOCK.output, per: 1_000_000 });
  });

  it('a stream without include_usage still shows no usage chunk at all', async () => {
    const { openai } = await client();
    const stream = await openai.chat.completions.create({ model: 'mock', messages, stream: true });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.filter((c) => c.usage)).toEqual([]);
  });

  it('a whole answer keeps the provider body as it is; its cost is the x-tokengate-cost header, equal to the billed row', async () => {
    const { key, openai } = await client();
    const { data, response } = await openai.chat.completions.create({ model: 'mock', messages }).withResponse();
    expect(data.usage).not.toHaveProperty('cost');
    const cost = Number(response.headers.get('x-tokengate-cost'));
    expect(cost).toBe(chargeFor({ inputTokens: data.usage!.prompt_tokens, cachedInputTokens: 0, outputTokens: data.usage!.completion_tokens }, MOCK));
    expect((await billedRow(key, response.headers.get('x-request-id')!)).cost).toBe(cost);
  });
});
