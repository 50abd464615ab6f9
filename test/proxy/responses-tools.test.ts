// Built-in tools the provider bills per call (issue 10): a request with a priced tool is billed its
// tokens plus the calls the response reports at the per-call price of config/models.json; a tool with
// no price is refused before anything is held; the hold covers the worst case of the tool calls
// (max_tool_calls, or 10 sent upstream when the client gives none).
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { messageItem, responseEvents, responseObject, responsesUsage, sseFrames, webSearchCallItem, type OutputItem } from '../helpers/stub-openai-responses.js';
import { GPT_4O_MINI, accountView, errorOf, funded, settledUsage, useProxyEnv } from './support.js';

const env = useProxyEnv();

const WEB_SEARCH_PRICE = 10_000; // config/models.json toolPrices.web_search
const searches = [webSearchCallItem('weather paris', 'ws_1'), webSearchCallItem('weather paris tomorrow', 'ws_2'), messageItem('Sunny, 21 °C.')];

function postResponses(key: string, body: unknown): Promise<Response> {
  return fetch(`${env.gw.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function toolCallsOf(requestId: string): Promise<unknown> {
  const [row] = await env.sql`select tool_calls from usage_events where id = ${requestId}`;
  return row?.tool_calls;
}

describe('a priced built-in tool', () => {
  it('non-stream: billed its tokens plus each reported call at the tool price; max_tool_calls 10 sent upstream', async () => {
    const start = 1_000_000;
    const { client, key } = await funded(env.gw, start);
    env.stub.enqueue({ kind: 'json', body: responseObject({ output: searches, usage: responsesUsage(100, 50), request: { tools: [{ type: 'web_search' }] } }) });

    const { response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools: [{ type: 'web_search' }] }).withResponse();

    const expected = chargeFor({ inputTokens: 100, cachedInputTokens: 0, outputTokens: 50 }, GPT_4O_MINI) + 2 * WEB_SEARCH_PRICE;
    expect(expected).toBe(20_045);
    expect(response.headers.get('x-tokengate-cost')).toBe(String(expected));
    expect(env.stub.requests[0]!.body).toMatchObject({ tools: [{ type: 'web_search' }], max_tool_calls: 10 });
    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ cost: expected, input_tokens: 100, output_tokens: 50 });
    expect(row.rates).toEqual({ input: 150000, cachedInput: 75000, output: 600000, per: 1_000_000, toolPrices: { web_search: WEB_SEARCH_PRICE } });
    expect(await toolCallsOf(requestId)).toEqual({ web_search: 2 });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - expected, held: 0 });
  });

  it('stream: the same calls and usage cost the same', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    const final = responseObject({ output: searches, usage: responsesUsage(100, 50), request: { tools: [{ type: 'web_search' }] } });
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(responseEvents(final)) });
    const { data: stream, response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools: [{ type: 'web_search' }], stream: true }).withResponse();
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toContain('response.web_search_call.completed');
    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ cost: 20_045, stream: true, status: 'ok' });
    expect(await toolCallsOf(requestId)).toEqual({ web_search: 2 });
  });

  it("the client's max_tool_calls bounds the hold and is passed on unchanged", async () => {
    const { client, key } = await funded(env.gw, 30_000);
    // 10 calls at 10,000 would need 100,000: refused. Two calls fit.
    const refused = await postResponses(key, { model: 'gpt-4o-mini', input: 'Search.', tools: [{ type: 'web_search' }] });
    expect(refused.status).toBe(402);
    expect(env.stub.requests).toHaveLength(0);

    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: responseObject({ output: searches, usage: responsesUsage(100, 50) }), after: new Promise<void>((resolve) => (answer = resolve)) });
    // max_tool_calls is an API parameter the SDK's types do not list yet: passed as a plain object.
    const params = { model: 'gpt-4o-mini', input: 'Search.', tools: [{ type: 'web_search' as const }], max_tool_calls: 2, max_output_tokens: 100 };
    const pending = client.responses.create(params);
    await env.stub.waitForRequests(1);
    expect((await accountView(env.gw, key)).held).toBeGreaterThanOrEqual(2 * WEB_SEARCH_PRICE);
    answer();
    await pending;
    expect(env.stub.requests[0]!.body.max_tool_calls).toBe(2);
  });

  it('a model may override the table price (o4-mini: web_search_preview at 10,000 instead of 25,000)', async () => {
    const { client } = await funded(env.gw, 10_000_000);
    const preview: OutputItem = { ...webSearchCallItem('news'), type: 'web_search_call' };
    env.stub.enqueue(
      { kind: 'json', body: responseObject({ output: [preview], usage: responsesUsage(10, 10) }) },
      { kind: 'json', body: responseObject({ output: [preview], usage: responsesUsage(10, 10) }) },
    );
    const mini = await client.responses.create({ model: 'gpt-4o-mini', input: 'News?', tools: [{ type: 'web_search_preview' }] }).withResponse();
    const o4 = await client.responses.create({ model: 'o4-mini', input: 'News?', tools: [{ type: 'web_search_preview_2025_03_11' }] }).withResponse();
    expect((await settledUsage(env, mini.response.headers.get('x-request-id')!)).rates).toMatchObject({ toolPrices: { web_search_preview: 25_000 } });
    expect((await settledUsage(env, o4.response.headers.get('x-request-id')!)).rates).toMatchObject({ toolPrices: { web_search_preview: 10_000 } });
    expect(Number(mini.response.headers.get('x-tokengate-cost'))).toBe(25_000 + chargeFor({ inputTokens: 10, cachedInputTokens: 0, outputTokens: 10 }, GPT_4O_MINI));
  });

  it('code interpreter is billed per container, as the provider does: three calls in two containers cost two', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    const run = (id: string, container: string): OutputItem => ({ id, type: 'code_interpreter_call', status: 'completed', code: 'print(1)', container_id: container, outputs: null });
    env.stub.enqueue({ kind: 'json', body: responseObject({ output: [run('ci_1', 'cntr_a'), run('ci_2', 'cntr_a'), run('ci_3', 'cntr_b')], usage: responsesUsage(10, 10) }) });
    const { response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Compute.', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }).withResponse();
    const requestId = response.headers.get('x-request-id')!;
    await settledUsage(env, requestId);
    expect(await toolCallsOf(requestId)).toEqual({ code_interpreter: 2 });
    expect(Number(response.headers.get('x-tokengate-cost'))).toBe(2 * 30_000 + chargeFor({ inputTokens: 10, cachedInputTokens: 0, outputTokens: 10 }, GPT_4O_MINI));
  });
});

describe('tools without a per-call price', () => {
  it('a built-in tool with no price is refused with 400 before anything is held; the provider is not called', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const response = await postResponses(key, {
      model: 'gpt-4o-mini',
      input: 'Use the tools.',
      tools: [{ type: 'function', name: 'get_time', parameters: { type: 'object', properties: {} } }, { type: 'mcp', server_label: 'docs', server_url: 'https://example.com/mcp' }],
    });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: 'tool_not_priced', param: 'tools[1].type', type: 'invalid_request_error' });
    expect(env.stub.requests).toHaveLength(0);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 1_000_000, held: 0 });
  });

  it('function tools are the client’s own: no tool price, no max_tool_calls added, nothing held for calls', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.stub.enqueue({ kind: 'json', body: responseObject({ usage: responsesUsage(10, 10) }) });
    const { response } = await client.responses.create({ model: 'gpt-4o-mini', input: 'Time?', tools: [{ type: 'function', name: 'get_time', parameters: { type: 'object', properties: {} }, strict: false }] }).withResponse();
    expect(env.stub.requests[0]!.body.max_tool_calls).toBeUndefined();
    const requestId = response.headers.get('x-request-id')!;
    const row = await settledUsage(env, requestId);
    expect(row.rates).toEqual({ input: 150000, cachedInput: 75000, output: 600000, per: 1_000_000 });
    expect(await toolCallsOf(requestId)).toBeNull();
  });
});
