// Non-stream chat completions through the real OpenAI SDK: the answer, the headers, the usage row and
// the ledger row, billed from the provider's usage to the token (SPEC 1, 3.6-3.8).
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { completion, usage } from '../helpers/stub-openai.js';
import {
  GPT_4O_MINI,
  MOCK,
  STUB_KEY,
  accountView,
  funded,
  settleAll,
  settledUsage,
  useProxyEnv,
  usageLedgerRows,
  usageRows,
} from './support.js';


const env = useProxyEnv();

const messages = [{ role: 'user' as const, content: 'Say hello.' }];

describe('non-stream through the SDK', () => {
  it('returns the provider answer with request id, cost and balance headers, and bills the provider usage', async () => {
    const start = 10_000;
    const { client, accountId, key } = await funded(env.gw, start);
    const answer = completion({ content: 'Hello there!', usage: usage(13, 7) });
    env.stub.enqueue({ kind: 'json', body: answer });

    const { data, response, request_id } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 50 }).withResponse();

    expect(data).toEqual(answer);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_/);
    expect(request_id).toBe(requestId);
    // ceil((13 * 150000 + 7 * 600000) / 1e6) = ceil(6.15) = 7, written out by hand.
    expect(chargeFor({ inputTokens: 13, cachedInputTokens: 0, outputTokens: 7 }, GPT_4O_MINI)).toBe(7);
    expect(response.headers.get('x-tokengate-cost')).toBe('7');
    expect(response.headers.get('x-tokengate-balance')).toBe(String(start - 7));

    // What went upstream: the stub's key, the upstream model, the client's fields.
    expect(env.stub.requests).toHaveLength(1);
    const upstream = env.stub.requests[0]!;
    expect(upstream.headers.authorization).toBe(`Bearer ${STUB_KEY}`);
    expect(upstream.body).toMatchObject({ model: 'gpt-4o-mini', messages, max_tokens: 50 });
    expect(upstream.body.stream_options).toBeUndefined();

    await settleAll(env.gw);
    const [row] = await usageRows(env.sql, requestId!);
    expect(row).toMatchObject({
      account_id: accountId,
      model: 'gpt-4o-mini',
      provider: 'openai',
      operation: null,
      input_tokens: 13,
      cached_input_tokens: 0,
      output_tokens: 7,
      reasoning_tokens: 0,
      cost: 7,
      usage_source: 'provider',
      status: 'ok',
      stream: false,
    });
    expect(row!.rates).toEqual({ input: 150000, cachedInput: 75000, output: 600000, per: 1_000_000 });
    const ledger = await usageLedgerRows(env.sql, requestId!);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ account_id: accountId, amount: -7, balance_after: start - 7 });

    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - 7, held: 0, available: start - 7 });
  });

  it('tags the usage row with x-tokengate-operation', async () => {
    const { client } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(20, 30) }) });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages }, { headers: { 'x-tokengate-operation': 'refine-content' } }).withResponse();
    const requestId = response.headers.get('x-request-id')!;
    await settleAll(env.gw);
    const [row] = await usageRows(env.sql, requestId);
    expect(row!.operation).toBe('refine-content');
    expect(Number(response.headers.get('x-tokengate-cost'))).toBe(chargeFor({ inputTokens: 20, cachedInputTokens: 0, outputTokens: 30 }, GPT_4O_MINI));
  });

  it('bills cached prompt tokens at the cached rate (never twice) and reasoning tokens as output', async () => {
    const start = 50_000;
    const { client } = await funded(env.gw, start);
    env.stub.enqueue({ kind: 'json', body: completion({ content: 'Thought hard.', usage: usage(2000, 500, { cached: 1536, reasoning: 300 }) }) });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse();

    // (2000 - 1536) * 150000 + 1536 * 75000 + 500 * 600000 = 484,800,000 micro -> 485 (reasoning is inside the 500).
    const expected = 485;
    expect(chargeFor({ inputTokens: 2000, cachedInputTokens: 1536, outputTokens: 500 }, GPT_4O_MINI)).toBe(expected);
    // The wrong formulas give other numbers: cached billed again on top (716), cached at the full rate
    // (600), reasoning added to output (665).
    expect(Math.ceil((2000 * 150000 + 1536 * 75000 + 500 * 600000) / 1e6)).toBe(716);
    expect(chargeFor({ inputTokens: 2000, cachedInputTokens: 0, outputTokens: 500 }, GPT_4O_MINI)).toBe(600);
    expect(chargeFor({ inputTokens: 2000, cachedInputTokens: 1536, outputTokens: 800 }, GPT_4O_MINI)).toBe(665);
    expect(response.headers.get('x-tokengate-cost')).toBe(String(expected));

    const requestId = response.headers.get('x-request-id')!;
    await settleAll(env.gw);
    const [row] = await usageRows(env.sql, requestId);
    expect(row).toMatchObject({ input_tokens: 2000, cached_input_tokens: 1536, output_tokens: 500, reasoning_tokens: 300, cost: expected, usage_source: 'provider' });
    const [entry] = await usageLedgerRows(env.sql, requestId);
    expect(entry!.amount).toBe(-expected);
    expect(entry!.balance_after).toBe(start - expected);
  });

  it('passes tool calls through unchanged', async () => {
    const { client } = await funded(env.gw, 10_000);
    const call = { id: 'call_abc123', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' };
    const answer = completion({ content: null, toolCalls: [call], usage: usage(85, 18) });
    env.stub.enqueue({ kind: 'json', body: answer });
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools }).withResponse();

    expect(data).toEqual(answer);
    expect(data.choices[0]!.finish_reason).toBe('tool_calls');
    expect(data.choices[0]!.message.tool_calls).toEqual([{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: call.arguments } }]);
    expect(env.stub.requests[0]!.body.tools).toEqual(tools);
    expect(response.headers.get('x-tokengate-cost')).toBe(String(chargeFor({ inputTokens: 85, cachedInputTokens: 0, outputTokens: 18 }, GPT_4O_MINI)));
  });

  it('estimates when the provider reports no usage, and bills a non-zero amount', async () => {
    const start = 10_000;
    const { client } = await funded(env.gw, start);
    const text = 'An answer without any usage block, as some compatible providers send.';
    env.stub.enqueue({ kind: 'json', body: completion({ content: text, usage: null }) });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse();
    expect(data.usage).toBeUndefined();
    expect(data.choices[0]!.message.content).toBe(text);

    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row.usage_source).toBe('estimated');
    expect(row.status).toBe('ok');
    expect(row.input_tokens).toBe(estimatePromptTokens({ model: 'gpt-4o-mini', messages }, 'o200k_base'));
    expect(row.output_tokens).toBeGreaterThan(5);
    expect(row.cost).toBeGreaterThan(0);
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: row.output_tokens }, GPT_4O_MINI));
    expect(response.headers.get('x-tokengate-cost')).toBe(String(row.cost));
    const [entry] = await usageLedgerRows(env.sql, requestId);
    expect(entry!.amount).toBe(-row.cost);
  });
});

describe('GET /v1/models', () => {
  it('lists the mock and OpenAI models (image models too), not Google ones (no GEMINI key)', async () => {
    const { client } = await funded(env.gw, 0);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('mock');
    expect(ids).toContain('gpt-4o-mini');
    expect(ids.filter((id) => id.startsWith('gemini'))).toEqual([]);
    expect(ids).toContain('gpt-image-1'); // its provider is configured
    expect(ids.filter((id) => id.startsWith('imagen'))).toEqual([]);
  });
});

describe('the built-in mock model (no provider key needed)', () => {
  it('answers non-stream and bills 1 token per input token and 2 per output token', async () => {
    const start = 5_000;
    const { client, key } = await funded(env.gw, start);
    const { data, response } = await client.chat.completions.create({ model: 'mock', messages }).withResponse();
    expect(data.choices[0]!.message.content).toEqual(expect.any(String));
    const { prompt_tokens, completion_tokens } = data.usage!;
    expect(completion_tokens).toBeGreaterThan(0);
    const expected = prompt_tokens + 2 * completion_tokens;
    expect(chargeFor({ inputTokens: prompt_tokens, cachedInputTokens: 0, outputTokens: completion_tokens }, MOCK)).toBe(expected);
    expect(response.headers.get('x-tokengate-cost')).toBe(String(expected));
    expect(env.stub.requests).toHaveLength(0);

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ provider: 'mock', input_tokens: prompt_tokens, output_tokens: completion_tokens, cost: expected, usage_source: 'provider' });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - expected, held: 0 });
  });

  it('streams, and bills the same way from the usage chunk', async () => {
    const start = 5_000;
    const { client, key } = await funded(env.gw, start);
    const { data: stream, response } = await client.chat.completions.create({ model: 'mock', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    let content = '';
    const usages = [];
    for await (const part of stream) {
      content += part.choices[0]?.delta.content ?? '';
      if (part.usage) usages.push(part.usage);
    }
    expect(content.length).toBeGreaterThan(0);
    expect(usages).toHaveLength(1);
    const expected = usages[0]!.prompt_tokens + 2 * usages[0]!.completion_tokens;

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ provider: 'mock', cost: expected, usage_source: 'provider', status: 'ok', stream: true });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - expected, held: 0 });
  });
});
