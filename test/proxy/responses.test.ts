// POST /v1/responses through the real OpenAI SDK against a stub that speaks the Responses wire format:
// billed once, to the token, from the provider's usage (input, cached, output, reasoning); the same
// for a stream and a whole answer with the same usage; every event reaches the client unchanged and in
// order; the hold follows max_output_tokens like chat's max_tokens.
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { messageItem, responseEvents, responseObject, responsesErrorEvent, responsesUsage, sseFrames } from '../helpers/stub-openai-responses.js';
import { GPT_4O_MINI, accountView, errorOf, expectNotBilled, funded, settledUsage, useProxyEnv, usageLedgerRows } from './support.js';

const env = useProxyEnv();

function postResponses(key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${env.gw.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('POST /v1/responses, non-stream', () => {
  it('returns the provider answer with cost and balance headers and bills its usage to the token, cached and reasoning included', async () => {
    const start = 100_000;
    const { client, key, accountId } = await funded(env.gw, start);
    const answer = responseObject({ id: 'resp_nonstream1', output: [messageItem('Forty-two.')], usage: responsesUsage(1_200, 300, { cached: 1_024, reasoning: 120 }) });
    env.stub.enqueue({ kind: 'json', body: answer });

    const { data, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'What is six times seven?', max_output_tokens: 500 }).withResponse();

    expect(data.id).toBe('resp_nonstream1');
    expect(data.output_text).toBe('Forty-two.');
    // (1200 - 1024) x 0.15 + 1024 x 0.075 + 300 x 0.6 = 283.2 -> 284 (reasoning is inside the 300).
    const expected = chargeFor({ inputTokens: 1_200, cachedInputTokens: 1_024, outputTokens: 300 }, GPT_4O_MINI);
    expect(expected).toBe(284);
    expect(response.headers.get('x-tokengate-cost')).toBe('284');
    expect(response.headers.get('x-tokengate-balance')).toBe(String(start - 284));

    expect(env.stub.requests).toHaveLength(1);
    expect(env.stub.requests[0]!).toMatchObject({ method: 'POST', path: '/responses' });
    expect(env.stub.requests[0]!.body).toEqual({ model: 'gpt-4o-mini', input: 'What is six times seven?', max_output_tokens: 500 });

    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({
      account_id: accountId,
      model: 'gpt-4o-mini',
      provider: 'openai',
      input_tokens: 1_200,
      cached_input_tokens: 1_024,
      output_tokens: 300,
      reasoning_tokens: 120,
      cost: 284,
      usage_source: 'provider',
      status: 'ok',
      stream: false,
    });
    expect(row.rates).toEqual({ input: 150000, cachedInput: 75000, output: 600000, per: 1_000_000 });
    expect(await usageLedgerRows(env.sql, requestId)).toEqual([expect.objectContaining({ amount: -284, balance_after: start - 284 })]);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - 284, held: 0 });
  });

  it('estimates when the provider reports no usage, and bills a non-zero amount', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'json', body: responseObject({ output: [messageItem('An answer that came without any usage block at all.')], usage: null }) });
    const { response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello' }).withResponse();
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'ok' });
    expect(row.input_tokens).toBeGreaterThan(0);
    expect(row.output_tokens).toBeGreaterThan(5);
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: row.output_tokens }, GPT_4O_MINI));
  });

  it('passes a provider error through with its status and bills nothing', async () => {
    const { key } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'json', status: 400, body: { error: { message: "Invalid 'max_output_tokens': integer below minimum value.", type: 'invalid_request_error', param: 'max_output_tokens', code: 'integer_below_min_value' } } });
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 5 });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: 'integer_below_min_value', param: 'max_output_tokens' });
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });
});

describe('POST /v1/responses, stream', () => {
  it('passes every event through unchanged and in order, and bills the usage of response.completed', async () => {
    const start = 100_000;
    const { client, key } = await funded(env.gw, start);
    const final = responseObject({ id: 'resp_stream1', output: [messageItem('One, two, three.')], usage: responsesUsage(1_200, 300, { cached: 1_024, reasoning: 120 }) });
    const events = responseEvents(final, 4);
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events) });

    const { data: stream, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Count to three.', stream: true }).withResponse();
    const received: { type: string; sequence_number: number }[] = [];
    for await (const event of stream) received.push(event);

    expect(received).toEqual(events);
    expect(received.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    // The same usage as the non-stream test: the same charge.
    expect(row).toMatchObject({ input_tokens: 1_200, cached_input_tokens: 1_024, output_tokens: 300, reasoning_tokens: 120, cost: 284, usage_source: 'provider', status: 'ok', stream: true });
    expect(await usageLedgerRows(env.sql, requestId)).toHaveLength(1);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - 284, held: 0 });
  });

  it('the client receives exactly the bytes the provider sent', async () => {
    const { key } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(responseEvents(responseObject({ usage: responsesUsage(20, 6) }), 3)) });
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', stream: true });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.equals(env.stub.requests[0]!.sent)).toBe(true);
  });

  it('response.incomplete (the output cap was reached) is billed from its usage; status ok', async () => {
    const { client } = await funded(env.gw, 100_000);
    const final = responseObject({ status: 'incomplete', output: [messageItem('Once upon a')], usage: responsesUsage(40, 16), request: { max_output_tokens: 16 } });
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(responseEvents(final)) });
    const { data: stream, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Tell a story.', stream: true, max_output_tokens: 16 }).withResponse();
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe('response.incomplete');
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 40, output_tokens: 16, status: 'ok', usage_source: 'provider' });
  });

  it('response.failed with usage is billed from it (status error); the client sees the event', async () => {
    const { key } = await funded(env.gw, 100_000);
    const final = responseObject({ status: 'failed', output: [], usage: responsesUsage(30, 4), error: { code: 'server_error', message: 'The model failed.' } });
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(responseEvents(final)) });
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', stream: true });
    expect(await response.text()).toContain('event: response.failed');
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 30, output_tokens: 4, status: 'error', usage_source: 'provider', cost: chargeFor({ inputTokens: 30, cachedInputTokens: 0, outputTokens: 4 }, GPT_4O_MINI) });
  });

  it('an error event before any output bills nothing (status error)', async () => {
    const { key } = await funded(env.gw, 100_000);
    const [created, inProgress] = responseEvents(responseObject({ usage: null }));
    env.stub.enqueue({ kind: 'sse', frames: sseFrames([created!, inProgress!, responsesErrorEvent(2, 'rate_limit_exceeded', 'Too many requests.')]) });
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', stream: true });
    expect(await response.text()).toContain('"rate_limit_exceeded"');
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ status: 'error', cost: 0 });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });

  it('a stream that ends without a terminal event is billed as estimated, status error', async () => {
    const { key } = await funded(env.gw, 100_000);
    const events = responseEvents(responseObject({ output: [messageItem('An answer whose terminal event never comes.')], usage: responsesUsage(10, 20) }), 4);
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events.slice(0, -1)) });
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', stream: true });
    expect(await response.text()).not.toContain('response.completed');
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'error' });
    expect(row.output_tokens).toBeGreaterThan(5);
  });

  it('a stream that breaks off after output is billed as estimated and ends with a Responses error event the SDK raises', async () => {
    const { client } = await funded(env.gw, 100_000);
    const events = responseEvents(responseObject({ output: [messageItem('A long answer that never finishes because the provider goes away.')], usage: responsesUsage(10, 20) }), 4);
    // Everything up to the terminal event; once the client has seen output, the connection is reset.
    let breakOff!: () => void;
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events.slice(0, -1)), breakOff: new Promise<void>((resolve) => (breakOff = resolve)) });
    const { data: stream, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true }).withResponse();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const event of stream) {
          seen.push(event.type);
          if (event.type === 'response.output_item.done') breakOff();
        }
      })(),
    ).rejects.toThrow(/stream broke off/);
    expect(seen).toContain('response.output_text.delta');
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'error' });
    expect(row.output_tokens).toBeGreaterThan(5);
  });
});

describe('Idempotency-Key', () => {
  it('a retried Responses request gets the first answer back and is billed once', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'json', body: responseObject({ id: 'resp_idem1', usage: responsesUsage(10, 5) }) });
    const body = { model: 'gpt-4o-mini', input: 'Hi' };
    const first = await postResponses(key, body, { 'idempotency-key': 'retry-1' });
    const second = await postResponses(key, body, { 'idempotency-key': 'retry-1' });
    expect(second.headers.get('x-tokengate-idempotent-replay')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(env.stub.requests).toHaveLength(1);
    await settledUsage(env, first.headers.get('x-request-id')!);
    const rows = await env.sql`select id from usage_events where account_id = ${accountId}`;
    expect(rows).toHaveLength(1);
  });
});

describe('the hold', () => {
  it('follows max_output_tokens, clamped to the model limit, while the request runs', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: responseObject({ usage: responsesUsage(10, 5) }), after: new Promise<void>((resolve) => (answer = resolve)) });
    const pending = postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 10_000 });
    await env.stub.waitForRequests(1);
    const { held } = await accountView(env.gw, key);
    // 10,000 output tokens at 0.6 = 6,000, plus a few prompt tokens at 0.15.
    expect(held).toBeGreaterThanOrEqual(6_000);
    expect(held).toBeLessThan(6_010);
    answer();
    expect((await pending).status).toBe(200);
    expect((await accountView(env.gw, key)).held).toBe(0);
  });

  it('clamp: a balance short of the worst case sends a max_output_tokens it pays for (never below 16)', async () => {
    const { client } = await funded(env.gw, 100);
    env.stub.enqueue({ kind: 'json', body: responseObject({ usage: responsesUsage(10, 5) }) });
    await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    const sent = env.stub.requests[0]!.body.max_output_tokens as number;
    // 100 tokens pay for about 166 output tokens at 0.6 after the prompt.
    expect(sent).toBeGreaterThanOrEqual(16);
    expect(sent).toBeLessThan(167);
  });

  it('402 when the balance cannot pay the prompt and 16 output tokens; the provider is not called', async () => {
    const { key } = await funded(env.gw, 1);
    const response = await postResponses(key, { model: 'gpt-4o', input: 'Hi' });
    expect(response.status).toBe(402);
    expect((await errorOf(response)).code).toBe('insufficient_balance');
    expect(env.stub.requests).toHaveLength(0);
  });
});

describe('refused before anything is held', () => {
  const refusals: [string, Record<string, unknown>, string, string][] = [
    ['background responses', { background: true }, 'background', 'unsupported_parameter'],
    ['conversations', { conversation: 'conv_123' }, 'conversation', 'unsupported_parameter'],
    ['stored prompts', { prompt: { id: 'pmpt_123' } }, 'prompt', 'unsupported_parameter'],
    ['file inputs', { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-123' }] }] }, 'input[0].content[0]', 'unsupported_content'],
    ['a bad max_output_tokens', { max_output_tokens: -1 }, 'max_output_tokens', 'invalid_request'],
  ];
  it.each(refusals)('%s: 400 naming the parameter', async (_name, extra, param, code) => {
    const { key } = await funded(env.gw, 100_000);
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Hi', ...extra });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ param, code, type: 'invalid_request_error' });
    expect(env.stub.requests).toHaveLength(0);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });

  it('models whose provider has no Responses endpoint here (mock) or is not enabled (Gemini): 400 model_not_available', async () => {
    const { key } = await funded(env.gw, 100_000);
    for (const model of ['mock', 'gemini-2.5-flash']) {
      const response = await postResponses(key, { model, input: 'Hi' });
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({ code: 'model_not_available', param: 'model' });
    }
    const unknown = await postResponses(key, { model: 'gpt-99', input: 'Hi' });
    expect(await errorOf(unknown)).toMatchObject({ code: 'model_not_found' });
    expect(env.stub.requests).toHaveLength(0);
  });
});
