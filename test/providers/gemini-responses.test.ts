// Gemini through POST /v1/responses with the openai SDK (issue 10): the Responses body is translated to
// one generateContent / streamGenerateContent call (asserted on what the stub received), the answer
// comes back as a Response object or the Responses event sequence, each call is billed once, to the
// token, from Google's usageMetadata (stream and non-stream alike), and nothing is ever stored.
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { geminiResponse, textEvents, usageMetadata } from '../helpers/stub-gemini.js';
import { accountView, errorOf, expectNotBilled, funded, settledUsage, usageRowsOfAccount } from '../proxy/support.js';
import { GEMINI_FLASH, sdkError, useGeminiEnv } from './support.js';

const env = useGeminiEnv();
const MODEL = 'gemini-2.5-flash';

type Event = OpenAI.Responses.ResponseStreamEvent;

async function collect(stream: AsyncIterable<Event>): Promise<Event[]> {
  const events: Event[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

function postResponses(key: string, body: unknown): Promise<Response> {
  return fetch(`${env.gw.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const cost = (input: number, output: number, cached = 0) => chargeFor({ inputTokens: input, cachedInputTokens: cached, outputTokens: output }, GEMINI_FLASH);

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: true,
};

describe('Gemini on /v1/responses: text', () => {
  it('non-stream: instructions become the systemInstruction, the answer is a Response, billed from usageMetadata', async () => {
    const start = 100_000;
    const { client, key, accountId } = await funded(env.gw, start);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'Bonjour.', usage: usageMetadata(1000, 200, { thoughts: 300, cached: 600 }), responseId: 'gResp1' }) });

    const { data, response } = await client.responses
      .create({ model: MODEL, instructions: 'Answer in French.', input: 'Say hello.', max_output_tokens: 500, temperature: 0.3, top_p: 0.8 })
      .withResponse();

    expect(data).toMatchObject({ id: 'resp_gemini_gResp1', object: 'response', status: 'completed', model: 'gemini-2.5-flash', store: false, instructions: 'Answer in French.', error: null, incomplete_details: null });
    expect(data.output_text).toBe('Bonjour.');
    expect(data.output).toEqual([{ id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Bonjour.' }] }]);
    expect(data.usage).toEqual({ input_tokens: 1000, input_tokens_details: { cached_tokens: 600 }, output_tokens: 500, output_tokens_details: { reasoning_tokens: 300 }, total_tokens: 1500 });
    const [sent] = env.gemini.requests;
    expect(sent).toMatchObject({ model: MODEL, method: 'generateContent', stream: false });
    expect(sent!.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }],
      systemInstruction: { parts: [{ text: 'Answer in French.' }] },
      generationConfig: { maxOutputTokens: 500, temperature: 0.3, topP: 0.8 },
    });

    const expected = cost(1000, 500, 600);
    expect(expected).toBe(1415); // ceil((400 * 300000 + 600 * 75000 + 500 * 2500000) / 1e6)
    expect(response.headers.get('x-tokengate-cost')).toBe(String(expected));
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ account_id: accountId, model: MODEL, provider: 'gemini', input_tokens: 1000, cached_input_tokens: 600, output_tokens: 500, reasoning_tokens: 300, cost: expected, usage_source: 'provider', status: 'ok', stream: false });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - expected, held: 0 });
    // Stateless: nothing was recorded as a stored response.
    expect(await env.sql`select id from stored_responses`).toEqual([]);
  });

  it('stream: the full Responses event sequence with sequence numbers; the same usage costs the same as non-stream', async () => {
    const { client, accountId } = await funded(env.gw, 100_000);
    const usage = usageMetadata(1000, 200, { thoughts: 300, cached: 600 });
    env.gemini.enqueue({ kind: 'stream', events: textEvents(['Bon', 'jour', '.'], usage) });

    const { data: stream, response } = await client.responses.create({ model: MODEL, input: 'Say hello.', stream: true }).withResponse();
    const events = await collect(stream);

    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[0]).toMatchObject({ response: { id: expect.stringMatching(/^resp_gemini_/), status: 'in_progress', output: [], usage: null } });
    const itemId = (events[2] as OpenAI.Responses.ResponseOutputItemAddedEvent).item.id;
    expect(events.slice(4, 7)).toEqual([0, 1, 2].map((i) => expect.objectContaining({ item_id: itemId, output_index: 0, content_index: 0, delta: ['Bon', 'jour', '.'][i] })));
    expect(events[7]).toMatchObject({ type: 'response.output_text.done', text: 'Bonjour.' });
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response).toMatchObject({ status: 'completed', output: [{ id: itemId, type: 'message', content: [{ type: 'output_text', text: 'Bonjour.' }] }] });
    expect(completed.response.usage).toEqual({ input_tokens: 1000, input_tokens_details: { cached_tokens: 600 }, output_tokens: 500, output_tokens_details: { reasoning_tokens: 300 }, total_tokens: 1500 });
    expect(env.gemini.requests[0]).toMatchObject({ method: 'streamGenerateContent', path: `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse` });

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 1000, cached_input_tokens: 600, output_tokens: 500, reasoning_tokens: 300, cost: 1415, usage_source: 'provider', status: 'ok', stream: true });
    expect(await usageRowsOfAccount(env.sql, accountId)).toHaveLength(1);
  });

  it('the SDK\'s stream helper puts the Response together from the events', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'stream', events: textEvents(['One, ', 'two.'], usageMetadata(5, 4)) });
    const runner = client.responses.stream({ model: MODEL, input: 'Count.' });
    const final = await runner.finalResponse();
    expect(final.output_text).toBe('One, two.');
    expect(final.usage).toMatchObject({ input_tokens: 5, output_tokens: 4 });
  });

  it('multi-turn input items: roles, merged turns and an image become Gemini contents', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    const png = Buffer.from('not really a png').toString('base64');
    await client.responses.create({
      model: MODEL,
      input: [
        { role: 'developer', content: 'Be terse.' },
        { role: 'user', content: [{ type: 'input_text', text: 'What is 2+2?' }] },
        { type: 'message', role: 'assistant', id: 'msg_earlier', status: 'completed', content: [{ type: 'output_text', text: 'Four.', annotations: [] }] },
        { role: 'user', content: [{ type: 'input_text', text: 'And this?' }, { type: 'input_image', image_url: `data:image/png;base64,${png}`, detail: 'auto' }] },
        { role: 'user', content: 'Be brief.' },
      ],
    });
    expect(env.gemini.requests[0]!.body).toEqual({
      systemInstruction: { parts: [{ text: 'Be terse.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'What is 2+2?' }] },
        { role: 'model', parts: [{ text: 'Four.' }] },
        { role: 'user', parts: [{ text: 'And this?' }, { inlineData: { mimeType: 'image/png', data: png } }, { text: 'Be brief.' }] },
      ],
      generationConfig: {},
    });
  });

  it('text.format json_schema and reasoning.effort are translated; unused fields are named as ignored', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false };
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: '{"n":4}' }) });
    const response = await postResponses(key, { model: MODEL, input: '2+2', text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } }, reasoning: { effort: 'low' }, user: 'u-1', store: false, truncation: 'disabled' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tokengate-ignored-params')).toBe('user');
    const body = (await response.json()) as { output: { content: { text: string }[] }[]; text: unknown };
    expect(JSON.parse(body.output[0]!.content[0]!.text)).toEqual({ n: 4 });
    expect(body.text).toEqual({ format: { type: 'json_schema', name: 'answer', schema, strict: true } });
    expect(env.gemini.requests[0]!.body.generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema, thinkingConfig: { thinkingBudget: 1024 } });
  });

  it('an answer cut at the output cap is status incomplete (max_output_tokens), billed as usual', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'stream', events: [geminiResponse({ text: 'Once upon a', finishReason: 'MAX_TOKENS', usage: usageMetadata(6, 16) })] });
    const { data: stream, response } = await client.responses.create({ model: MODEL, input: 'A story.', stream: true, max_output_tokens: 16 }).withResponse();
    const events = await collect(stream);
    const last = events.at(-1) as OpenAI.Responses.ResponseIncompleteEvent;
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ status: 'incomplete' }] });
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 6, output_tokens: 16, status: 'ok', usage_source: 'provider' });
  });
});

describe('Gemini on /v1/responses: function tools', () => {
  it('non-stream round trip: function_call items with call ids, function_call_output goes back by name in call order', async () => {
    const { client, accountId } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ calls: [{ name: 'get_weather', args: { city: 'Paris' } }, { name: 'get_weather', args: { city: 'Rome' } }], usage: usageMetadata(30, 12) }) });

    const { data: first, response: firstResponse } = await client.responses.create({ model: MODEL, input: 'Weather in Paris and Rome?', tools: [weatherTool], tool_choice: 'auto' }).withResponse();
    const calls = first.output.filter((item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === 'function_call');
    expect(calls.map((c) => [c.name, JSON.parse(c.arguments), c.status])).toEqual([
      ['get_weather', { city: 'Paris' }, 'completed'],
      ['get_weather', { city: 'Rome' }, 'completed'],
    ]);
    expect(calls[0]!.call_id).toMatch(/^call_/);
    expect(calls[0]!.id).toMatch(/^fc_/);
    expect(first.status).toBe('completed');
    expect(env.gemini.requests[0]!.body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather in a city', parametersJsonSchema: weatherTool.parameters }] }],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
    });

    // The client sends the conversation back (nothing is stored), answering Rome first.
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'Paris 21°C, Rome 25°C.', usage: usageMetadata(60, 9) }) });
    const { data: second, response: secondResponse } = await client.responses.create({
      model: MODEL,
      tools: [weatherTool],
      input: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        ...calls,
        { type: 'function_call_output', call_id: calls[1]!.call_id, output: '{"temp":25}' },
        { type: 'function_call_output', call_id: calls[0]!.call_id, output: 'sunny, 21°C' },
      ],
    }).withResponse();
    expect(second.output_text).toBe('Paris 21°C, Rome 25°C.');
    expect(env.gemini.requests[1]!.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Rome?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_weather', args: { city: 'Rome' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny, 21°C' } } }, { functionResponse: { name: 'get_weather', response: { temp: 25 } } }] },
    ]);
    expect((await settledUsage(env, firstResponse.headers.get('x-request-id')!)).cost).toBe(cost(30, 12));
    expect((await settledUsage(env, secondResponse.headers.get('x-request-id')!)).cost).toBe(cost(60, 9));
    expect(await usageRowsOfAccount(env.sql, accountId)).toHaveLength(2);
  });

  it('stream: a call is output_item.added, its arguments delta and done, output_item.done; tool_choice names the function', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'stream', events: [geminiResponse({ text: 'Checking.', finishReason: null, usage: null }), geminiResponse({ calls: [{ name: 'get_weather', args: { city: 'Oslo' } }], usage: usageMetadata(25, 8) })] });
    const events = await collect(await client.responses.create({ model: MODEL, input: 'Weather in Oslo?', tools: [weatherTool], tool_choice: { type: 'function', name: 'get_weather' }, stream: true }));

    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[8]).toMatchObject({ output_index: 1, item: { type: 'function_call', status: 'in_progress', name: 'get_weather', arguments: '' } });
    expect(events[10]).toMatchObject({ output_index: 1, name: 'get_weather', arguments: '{"city":"Oslo"}' });
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.output.map((item) => item.type)).toEqual(['message', 'function_call']);
    expect(env.gemini.requests[0]!.body).toMatchObject({ toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } } });
  });

  it('a function_call_output whose call_id matches no function_call is refused before any hold, naming the item', async () => {
    const { key } = await funded(env.gw, 10_000);
    const response = await postResponses(key, { model: MODEL, input: [{ role: 'user', content: 'Hi' }, { type: 'function_call_output', call_id: 'call_nope', output: 'x' }] });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ param: 'input[1].call_id' });
    expect(env.gemini.requests).toHaveLength(0);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
  });

  it.each([
    ['web_search', { tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    ['an unpriced built-in tool', { tools: [{ type: 'mcp', server_label: 'x', server_url: 'https://example.com' }] }, 'tools[0].type'],
    ['a built-in tool_choice', { tool_choice: { type: 'file_search' } }, 'tool_choice'],
  ])('%s is refused with 400 before any hold: Gemini takes function tools only', async (_name, extra, param) => {
    const { key } = await funded(env.gw, 10_000);
    const response = await postResponses(key, { model: MODEL, input: 'Search.', ...extra });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter', param });
    expect(env.gemini.requests).toHaveLength(0);
  });
});

describe('Gemini on /v1/responses: stateless', () => {
  it.each([
    ['previous_response_id', { previous_response_id: 'resp_gemini_abc' }, 'previous_response_id'],
    ['store: true', { store: true }, 'store'],
    ['an item_reference', { input: [{ type: 'item_reference', id: 'msg_abc' }, { role: 'user', content: 'Go on.' }] }, 'input[0]'],
  ])('%s is a clear 400 before anything is held (even on a balance too small to hold), Google not called', async (_name, extra, param) => {
    const { key } = await funded(env.gw, 1);
    const response = await postResponses(key, { model: MODEL, input: 'Continue.', ...extra });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter', param });
    expect(error.message).toContain('statelessly');
    expect(env.gemini.requests).toHaveLength(0);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 1, held: 0 });
  });

  it('a request that leaves store out is served and answered store: false', async () => {
    const { client } = await funded(env.gw, 100_000);
    const response = await client.responses.create({ model: MODEL, input: 'Hi' });
    expect((response as unknown as { store: unknown }).store).toBe(false);
  });

  it('GET, DELETE and input_items of a Gemini response id are 400 response_not_stored; an unknown id stays 404', async () => {
    const { client, key } = await funded(env.gw, 100_000);
    const made = await client.responses.create({ model: MODEL, input: 'Hi' });
    const read = (method: string, path: string) => fetch(`${env.gw.url}/v1/responses/${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    for (const [method, path] of [['GET', made.id], ['DELETE', made.id], ['GET', `${made.id}/input_items`]] as const) {
      const response = await read(method, path);
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({ code: 'response_not_stored', message: expect.stringContaining('gemini') });
    }
    expect((await read('GET', 'resp_0123456789abcdef')).status).toBe(404);

    // An OpenAI model asked to continue a Gemini response: the same 400, before anything is held.
    const continued = await postResponses(key, { model: 'gpt-4o-mini', input: 'Go on.', previous_response_id: made.id });
    expect(continued.status).toBe(400);
    expect(await errorOf(continued)).toMatchObject({ code: 'response_not_stored', param: 'previous_response_id' });
    expect(env.stub.requests).toHaveLength(0);
  });
});

describe('Gemini on /v1/responses: errors, in OpenAI\'s shape, not billed', () => {
  const blocked = (withUsage: boolean) => ({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, ...(withUsage ? { usageMetadata: { promptTokenCount: 13, totalTokenCount: 13 } } : {}) });

  it.each([false, true])('a blocked prompt is 400 content_filter naming input, nothing billed (stream: %s)', async (stream) => {
    const { client, key } = await funded(env.gw, 10_000);
    env.gemini.enqueue(stream ? { kind: 'stream', events: [blocked(false)] } : { kind: 'json', body: blocked(false) });
    const error = await sdkError(client.responses.create({ model: MODEL, input: 'Something Google will not answer.', stream }));
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'content_filter', param: 'input' });
    expect(error.message).toContain('PROHIBITED_CONTENT');
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('a blocked prompt with reported usage bills those prompt tokens (Google answered 200), status error', async () => {
    const { client, key } = await funded(env.gw, 10_000);
    env.gemini.enqueue({ kind: 'json', body: blocked(true) });
    const error = await sdkError(client.responses.create({ model: MODEL, input: 'Something Google will not answer.' }));
    expect(error.status).toBe(400);
    const row = await settledUsage(env, error.requestID!);
    expect(row).toMatchObject({ input_tokens: 13, output_tokens: 0, cost: cost(13, 0), usage_source: 'provider', status: 'error' });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000 - cost(13, 0), held: 0 });
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for project_number:123456789.', 'rate_limit_exceeded', 'rate_limit_error'],
    [400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: bad', 'invalid_argument', 'invalid_request_error'],
  ])('Google %i %s comes back in OpenAI\'s shape with its status, nothing billed', async (status, googleStatus, message, code, type) => {
    const { client, key } = await funded(env.gw, 10_000);
    env.gemini.enqueue({ kind: 'json', status, body: { error: { code: status, message, status: googleStatus } } });
    const error = await sdkError(client.responses.create({ model: MODEL, input: 'Hi' }));
    expect(error.status).toBe(status);
    expect(error.error).toMatchObject({ type, code });
    expect(error.message).not.toContain('123456789');
    expect(env.gemini.requests).toHaveLength(1);
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('a stream Gemini ends without a finish reason ends with an error event, no terminal event, billed as estimated', async () => {
    const { key } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'stream', events: [geminiResponse({ text: 'An answer that never finishes', finishReason: null, usage: null })] });
    const response = await postResponses(key, { model: MODEL, input: 'Hi', stream: true });
    const text = await response.text();
    expect(text).not.toContain('response.completed');
    const errorEvent = JSON.parse(text.split('\n\n').filter(Boolean).at(-1)!.split('\n')[1]!.slice('data: '.length)) as Record<string, unknown>;
    expect(errorEvent).toMatchObject({ type: 'error', code: 'upstream_stream_incomplete', error: { code: 'upstream_stream_incomplete' } });
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'error' });
    expect(row.output_tokens).toBeGreaterThan(0);
  });
});
