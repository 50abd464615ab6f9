// The Vercel AI SDK's default OpenAI provider against the gateway (issue 10): `openai(id)` calls the
// Responses API and `openai.chat(id)` chat completions; both work, stream and not, each call billed
// once, to the token, from the provider's usage.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { completion, textChunks, usage } from '../helpers/stub-openai.js';
import { messageItem, responseEvents, responseObject, responsesUsage, sseFrames } from '../helpers/stub-openai-responses.js';
import { GPT_4O_MINI, accountView, funded, settleAll, useProxyEnv, usageRowsOfAccount } from './support.js';

const env = useProxyEnv();

function provider(apiKey: string) {
  return createOpenAI({ baseURL: `${env.gw.url}/v1`, apiKey });
}

const cost = (input: number, output: number, cached = 0) => chargeFor({ inputTokens: input, cachedInputTokens: cached, outputTokens: output }, GPT_4O_MINI);

/** The account's usage rows once settled; exactly `count` of them are expected. */
async function billed(accountId: string, count: number) {
  await settleAll(env.gw);
  const rows = await usageRowsOfAccount(env.sql, accountId);
  expect(rows).toHaveLength(count);
  return rows;
}

describe('openai(id): the Responses API', () => {
  it('generateText', async () => {
    const start = 100_000;
    const { key, accountId } = await funded(env.gw, start);
    env.stub.enqueue({ kind: 'json', body: responseObject({ output: [messageItem('Hello from the Responses API.')], usage: responsesUsage(2_000, 40, { cached: 1_536 }) }) });

    const result = await generateText({ model: provider(key)('gpt-4o-mini'), prompt: 'Say hello.', maxOutputTokens: 100 });

    expect(result.text).toBe('Hello from the Responses API.');
    expect(result.usage).toMatchObject({ inputTokens: 2_000, outputTokens: 40 });
    expect(env.stub.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /responses']);
    expect(env.stub.requests[0]!.body).toMatchObject({ model: 'gpt-4o-mini', max_output_tokens: 100 });
    const [row] = await billed(accountId, 1);
    expect(row).toMatchObject({ input_tokens: 2_000, cached_input_tokens: 1_536, output_tokens: 40, cost: cost(2_000, 40, 1_536), usage_source: 'provider', status: 'ok', stream: false });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - row!.cost, held: 0 });
  });

  it('streamText: the same usage costs the same as generateText', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    const final = responseObject({ output: [messageItem('Hello from the Responses API.')], usage: responsesUsage(2_000, 40, { cached: 1_536 }) });
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(responseEvents(final, 5)) });

    const result = streamText({ model: provider(key)('gpt-4o-mini'), prompt: 'Say hello.' });
    let text = '';
    for await (const delta of result.textStream) text += delta;

    expect(text).toBe('Hello from the Responses API.');
    expect(await result.usage).toMatchObject({ inputTokens: 2_000, outputTokens: 40 });
    expect(env.stub.requests[0]!.body).toMatchObject({ stream: true });
    const [row] = await billed(accountId, 1);
    expect(row).toMatchObject({ cost: cost(2_000, 40, 1_536), status: 'ok', stream: true });
  });

  it('a multi-turn conversation refers to the earlier answer by item_reference: allowed for its own account', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.stub.enqueue(
      { kind: 'json', body: responseObject({ id: 'resp_turn1', output: [messageItem('Paris.', 'msg_turn1')], usage: responsesUsage(12, 2) }) },
      { kind: 'json', body: responseObject({ id: 'resp_turn2', output: [messageItem('About 2.1 million.', 'msg_turn2')], usage: responsesUsage(30, 6) }) },
    );
    const openai = provider(key);
    const first = await generateText({ model: openai('gpt-4o-mini'), prompt: 'Capital of France?' });
    const second = await generateText({ model: openai('gpt-4o-mini'), messages: [{ role: 'user', content: 'Capital of France?' }, ...first.response.messages, { role: 'user', content: 'Population?' }] });

    expect(second.text).toBe('About 2.1 million.');
    expect(env.stub.requests[1]!.body.input).toContainEqual({ type: 'item_reference', id: 'msg_turn1' });
    const rows = await billed(accountId, 2);
    expect(rows.map((r) => r.cost)).toEqual([cost(12, 2), cost(30, 6)]);
  });
});

describe('openai.chat(id): chat completions', () => {
  it('generateText and streamText', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'json', body: completion({ content: 'Hello from chat.', usage: usage(20, 5) }) }, { kind: 'stream', chunks: textChunks(['Hello', ' from', ' chat.']), usage: usage(20, 5) });
    const openai = provider(key);

    const generated = await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'Say hello.' });
    const streamed = streamText({ model: openai.chat('gpt-4o-mini'), prompt: 'Say hello.' });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;

    expect(generated.text).toBe('Hello from chat.');
    expect(text).toBe('Hello from chat.');
    expect(env.stub.requests.map((r) => r.path)).toEqual(['/chat/completions', '/chat/completions']);
    const rows = await billed(accountId, 2);
    expect(rows.map((r) => [r.stream, r.cost])).toEqual(expect.arrayContaining([[false, cost(20, 5)], [true, cost(20, 5)]]));
  });
});
