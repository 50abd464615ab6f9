// Stored responses belong to the account that created them (issue 10): the gateway records each
// response id to its account, and reads, deletes and continuations (previous_response_id, item_reference)
// work only for that account — for any other, 404 without asking the provider. Continuing from a
// response holds what it adds to the prompt (its recorded usage).
import { describe, expect, it } from 'vitest';
import { functionCallItem, messageItem, responseEvents, responseObject, responsesUsage, sseFrames } from '../helpers/stub-openai-responses.js';
import { accountView, errorOf, funded, settledUsage, useProxyEnv } from './support.js';

const env = useProxyEnv();

function call(key: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${env.gw.url}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const inputItems = {
  object: 'list',
  data: [{ id: 'msg_input0001', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'Hello' }] }],
  first_id: 'msg_input0001',
  last_id: 'msg_input0001',
  has_more: false,
};

/** Account A with a stored response `id` (created through the gateway) whose usage is `usage`. */
async function accountWithResponse(id: string, usage = responsesUsage(40, 10)) {
  const owner = await funded(env.gw, 1_000_000);
  env.stub.enqueue({ kind: 'json', body: responseObject({ id, output: [messageItem('Hi there.', `msg_${id}`)], usage }) });
  const created = await owner.client.responses.create({ model: 'gpt-4o-mini', input: 'Hello' });
  expect(created.id).toBe(id);
  env.stub.reset();
  return owner;
}

describe('the account that created a response', () => {
  it('retrieves it, lists its input items and deletes it, each forwarded to the provider', async () => {
    const { client } = await accountWithResponse('resp_own1');
    const stored = responseObject({ id: 'resp_own1', output: [messageItem('Hi there.')], usage: responsesUsage(40, 10) });
    env.stub.enqueue({ kind: 'json', body: stored }, { kind: 'json', body: inputItems }, { kind: 'json', body: { id: 'resp_own1', object: 'response', deleted: true } });

    const retrieved = await client.responses.retrieve('resp_own1', { include: ['message.output_text.logprobs'] });
    expect(retrieved).toMatchObject({ id: 'resp_own1', status: 'completed' });
    const items = [];
    for await (const item of client.responses.inputItems.list('resp_own1', { limit: 5 })) items.push(item);
    expect(items).toEqual(inputItems.data);
    await client.responses.delete('resp_own1');

    expect(env.stub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /responses/resp_own1?include%5B%5D=message.output_text.logprobs',
      'GET /responses/resp_own1/input_items?limit=5',
      'DELETE /responses/resp_own1',
    ]);
    // Deleted: the gateway forgets it, and answers 404 without asking the provider again.
    await expect(client.responses.retrieve('resp_own1')).rejects.toMatchObject({ status: 404 });
    expect(env.stub.requests).toHaveLength(3);
  });

  it('a streamed response is recorded before its first event reaches the client', async () => {
    const { client, key } = await funded(env.gw, 1_000_000);
    const events = responseEvents(responseObject({ id: 'resp_streamed1', usage: responsesUsage(12, 4) }));
    let finish!: () => void;
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events), pauseBefore: { index: events.length - 1, until: new Promise<void>((resolve) => (finish = resolve)) } });
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ type: 'response.created', response: { id: 'resp_streamed1' } });

    // While the stream still runs, its owner can already read it.
    env.stub.enqueue({ kind: 'json', body: responseObject({ id: 'resp_streamed1', status: 'in_progress', usage: null }) });
    const read = await call(key, 'GET', '/responses/resp_streamed1');
    expect(read.status).toBe(200);

    finish();
    for (let next = await iterator.next(); !next.done; next = await iterator.next());
    const [row] = await env.sql`select account_id, input_tokens, output_tokens from stored_responses where id = 'resp_streamed1'`;
    expect(row).toMatchObject({ input_tokens: 12, output_tokens: 4 });
  });

  it('store: false is not recorded (the provider keeps nothing to read)', async () => {
    const { client, key } = await funded(env.gw, 1_000_000);
    env.stub.enqueue({ kind: 'json', body: responseObject({ id: 'resp_unstored', usage: responsesUsage(5, 5), request: { store: false } }) });
    await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', store: false });
    const read = await call(key, 'GET', '/responses/resp_unstored');
    expect(read.status).toBe(404);
    expect(env.stub.requests).toHaveLength(1);
  });
});

describe('another account', () => {
  it('cannot read, list, delete or continue it: 404, the provider is not called, nothing is held or billed', async () => {
    await accountWithResponse('resp_secret1');
    const other = await funded(env.gw, 1_000_000);

    for (const [method, path] of [
      ['GET', '/responses/resp_secret1'],
      ['GET', '/responses/resp_secret1/input_items'],
      ['DELETE', '/responses/resp_secret1'],
    ] as const) {
      const response = await call(other.key, method, path);
      expect(response.status).toBe(404);
      expect(await errorOf(response)).toMatchObject({ code: 'not_found', type: 'not_found_error' });
    }
    await expect(other.client.responses.retrieve('resp_secret1')).rejects.toMatchObject({ status: 404 });

    const continued = await call(other.key, 'POST', '/responses', { model: 'gpt-4o-mini', input: 'And then?', previous_response_id: 'resp_secret1' });
    expect(continued.status).toBe(404);
    expect(await errorOf(continued)).toMatchObject({ code: 'not_found', param: 'previous_response_id' });
    await expect(other.client.responses.create({ model: 'gpt-4o-mini', input: 'And then?', previous_response_id: 'resp_secret1', stream: true })).rejects.toMatchObject({ status: 404 });

    const referenced = await call(other.key, 'POST', '/responses', { model: 'gpt-4o-mini', input: [{ type: 'item_reference', id: 'msg_resp_secret1' }, { role: 'user', content: 'Go on.' }] });
    expect(referenced.status).toBe(404);
    expect(await errorOf(referenced)).toMatchObject({ code: 'not_found', param: 'input' });

    expect(env.stub.requests).toEqual([]);
    expect(await accountView(env.gw, other.key)).toMatchObject({ balance: 1_000_000, held: 0 });
    const rows = await env.sql`select id from usage_events where account_id = ${other.accountId}`;
    expect(rows).toHaveLength(0);
  });

  it('an id the gateway never saw is 404 too, without asking the provider', async () => {
    const { key } = await funded(env.gw, 1_000);
    expect((await call(key, 'GET', '/responses/resp_made_up')).status).toBe(404);
    expect(env.stub.requests).toEqual([]);
  });
});

describe('continuing a response', () => {
  it('previous_response_id of its own: forwarded, and the hold includes the previous input and output', async () => {
    const owner = await accountWithResponse('resp_long1', responsesUsage(50_000, 2_000));
    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: responseObject({ id: 'resp_long2', usage: responsesUsage(52_010, 5) }), after: new Promise<void>((resolve) => (answer = resolve)) });
    const pending = owner.client.responses.create({ model: 'gpt-4o-mini', input: 'And then?', previous_response_id: 'resp_long1', max_output_tokens: 16 }).withResponse();
    await env.stub.waitForRequests(1);
    // 52,000 tokens of context at 0.15 = 7,800, plus the new input and 16 output tokens.
    const { held } = await accountView(env.gw, owner.key);
    expect(held).toBeGreaterThanOrEqual(7_800);
    expect(held).toBeLessThan(7_830);
    answer();
    const { data, response } = await pending;
    expect(data.id).toBe('resp_long2');
    expect(env.stub.requests[0]!.body).toMatchObject({ previous_response_id: 'resp_long1' });
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 52_010, output_tokens: 5 });
  });

  it("the continued context is held no further than the model's context window", async () => {
    const owner = await accountWithResponse('resp_huge1', responsesUsage(500_000, 1_000));
    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: responseObject({ usage: responsesUsage(127_000, 5) }), after: new Promise<void>((resolve) => (answer = resolve)) });
    const pending = owner.client.responses.create({ model: 'gpt-4o-mini', input: 'Go on.', previous_response_id: 'resp_huge1', max_output_tokens: 16, truncation: 'auto' });
    await env.stub.waitForRequests(1);
    // gpt-4o-mini's window is 128,000 tokens: at most 19,200 for the prompt, plus 16 output tokens.
    const { held } = await accountView(env.gw, owner.key);
    expect(held).toBe(Math.ceil((128_000 * 150_000 + 16 * 600_000) / 1e6));
    answer();
    await pending;
  });

  it('item_reference to its own output items: forwarded, and the hold includes that response output', async () => {
    const owner = await funded(env.gw, 1_000_000);
    env.stub.enqueue({ kind: 'json', body: responseObject({ id: 'resp_items1', output: [functionCallItem('get_weather', '{"city":"Paris"}', 'fc_items1')], usage: responsesUsage(30, 20_000) }) });
    await owner.client.responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?' });
    env.stub.reset();

    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: responseObject({ usage: responsesUsage(20_050, 5) }), after: new Promise<void>((resolve) => (answer = resolve)) });
    const input = [
      { type: 'item_reference' as const, id: 'fc_items1' },
      { type: 'function_call_output' as const, call_id: 'call_stub0001', output: '{"temperature":21}' },
    ];
    const pending = owner.client.responses.create({ model: 'gpt-4o-mini', input, max_output_tokens: 16 });
    await env.stub.waitForRequests(1);
    // 20,000 output tokens of the referenced response at 0.15 = 3,000, plus the rest.
    const { held } = await accountView(env.gw, owner.key);
    expect(held).toBeGreaterThanOrEqual(3_000);
    expect(held).toBeLessThan(3_030);
    answer();
    await pending;
    expect(env.stub.requests[0]!.body.input).toEqual(input);
  });
});
