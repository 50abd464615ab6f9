// Gemini chat through the gateway with the OpenAI SDK (issue 9): requests are translated to Gemini's
// wire format (asserted on what the stub received), answers and streams come back as OpenAI's, and
// usage is billed from Google's counts at the model's rates, to the token.
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { geminiResponse, textEvents, usageMetadata } from '../helpers/stub-gemini.js';
import { accountView, expectNotBilled, funded, postChat, settledUsage } from '../proxy/support.js';
import { GEMINI_FLASH, sdkError, useGeminiEnv } from './support.js';

const env = useGeminiEnv();
const MODEL = 'gemini-2.5-flash';
/** Pays for the model's whole output cap, so no request here is clamped. */
const RICH = 1_000_000;

type Chunk = OpenAI.Chat.ChatCompletionChunk;

async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const textOf = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/** Tool calls put together from stream deltas, as the SDK's users do. */
function toolCallsOf(chunks: Chunk[]): { id: string; name: string; arguments: string }[] {
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const chunk of chunks) {
    for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
      const call = (calls[delta.index] ??= { id: '', name: '', arguments: '' });
      call.id += delta.id ?? '';
      call.name += delta.function?.name ?? '';
      call.arguments += delta.function?.arguments ?? '';
    }
  }
  return calls;
}

const weatherTool: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

describe('Gemini chat: requests and answers', () => {
  it('text: the prompt goes to generateContent with the gateway key, the answer and the bill come back', async () => {
    const start = 10_000;
    const { client, key } = await funded(env.gw, start);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'Hello there.', usage: usageMetadata(12, 4) }) });

    const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 50, temperature: 0.2, top_p: 0.9, seed: 7, stop: ['END'] }).withResponse();

    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hello there.' });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toEqual({ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
    const [sent] = env.gemini.requests;
    expect(sent).toMatchObject({ model: MODEL, stream: false });
    expect(sent!.headers['x-goog-api-key']).toBe(env.gemini.apiKey);
    expect(sent!.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
      generationConfig: { maxOutputTokens: 50, temperature: 0.2, topP: 0.9, seed: 7, stopSequences: ['END'] },
    });

    const cost = chargeFor({ inputTokens: 12, cachedInputTokens: 0, outputTokens: 4 }, GEMINI_FLASH);
    expect(cost).toBe(14); // ceil((12 * 300000 + 4 * 2500000) / 1e6) = ceil(13.6)
    expect(response.headers.get('x-tokengate-cost')).toBe(String(cost));
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ model: MODEL, provider: 'gemini', input_tokens: 12, output_tokens: 4, cost, usage_source: 'provider', status: 'ok', stream: false });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - cost, held: 0 });
  });

  it('system and developer messages become the systemInstruction; a multi-turn chat alternates user and model', async () => {
    const { client } = await funded(env.gw, RICH);
    await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: 'Quatre.' },
        { role: 'user', content: 'And 3+3?' },
        { role: 'user', content: 'Be brief.' },
      ],
    });
    expect(env.gemini.requests[0]!.body).toEqual({
      systemInstruction: { parts: [{ text: 'You are terse.' }, { text: 'Answer in French.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'What is 2+2?' }] },
        { role: 'model', parts: [{ text: 'Quatre.' }] },
        { role: 'user', parts: [{ text: 'And 3+3?' }, { text: 'Be brief.' }] },
      ],
      generationConfig: {},
    });
  });

  it('image input: a data URL goes inline, an http URL as fileData for Google to fetch', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    const png = Buffer.from('not really a png').toString('base64');
    await client.chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=large', detail: 'low' } },
          ],
        },
      ],
    });
    expect(env.gemini.requests[0]!.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Compare these.' }, { inlineData: { mimeType: 'image/png', data: png } }, { fileData: { fileUri: 'https://example.com/cat.webp?size=large', mimeType: 'image/webp' } }] },
    ]);
  });

  it.each([
    ['json_object', { type: 'json_object' } as const, { responseMimeType: 'application/json' }],
    [
      'json_schema',
      { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false } } } as const,
      { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false } },
    ],
  ])('JSON mode (%s) asks Gemini for JSON and returns it as the message content', async (_name, responseFormat, generationConfig) => {
    const { client } = await funded(env.gw, RICH);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: '{"n":4}', usage: usageMetadata(9, 3) }) });
    const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '2+2 as JSON' }], response_format: responseFormat });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ n: 4 });
    expect(env.gemini.requests[0]!.body.generationConfig).toEqual(generationConfig);
  });

  it('reasoning_effort becomes a thinking budget', async () => {
    const { client } = await funded(env.gw, RICH);
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Think.' }], reasoning_effort: 'low' });
    expect(env.gemini.requests[0]!.body.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 1024 } });
  });
});

describe('Gemini chat: tool calls', () => {
  it('non-stream round trip: tool calls get ids, results go back by name in the order of the calls', async () => {
    const { client } = await funded(env.gw, 100_000);
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris and Rome?' }];
    env.gemini.enqueue({
      kind: 'json',
      body: geminiResponse({ calls: [{ name: 'get_weather', args: { city: 'Paris' } }, { name: 'get_weather', args: { city: 'Rome' } }], usage: usageMetadata(30, 12) }),
    });

    const first = await client.chat.completions.create({ model: MODEL, messages, tools: [weatherTool], tool_choice: 'auto' });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls!.map((call) => call as OpenAI.Chat.ChatCompletionMessageFunctionToolCall);
    expect(calls.map((c) => [c.type, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['function', 'get_weather', { city: 'Paris' }],
      ['function', 'get_weather', { city: 'Rome' }],
    ]);
    expect(calls[0]!.id).toMatch(/^call_[\w-]{24}$/);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    expect(env.gemini.requests[0]!.body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather in a city', parametersJsonSchema: weatherTool.function.parameters }] }],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
    });

    // The client answers Rome first: Gemini gets the results in the order of its calls, by name.
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'Paris 21°C, Rome 25°C.', usage: usageMetadata(60, 9) }) });
    const second = await client.chat.completions.create({
      model: MODEL,
      tools: [weatherTool],
      messages: [
        ...messages,
        choice.message,
        { role: 'tool', tool_call_id: calls[1]!.id, content: '{"temp":25}' },
        { role: 'tool', tool_call_id: calls[0]!.id, content: 'sunny, 21°C' },
      ],
    });
    expect(second.choices[0]!.message.content).toBe('Paris 21°C, Rome 25°C.');
    expect(env.gemini.requests[1]!.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Rome?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_weather', args: { city: 'Rome' } } }] },
      {
        role: 'user',
        parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny, 21°C' } } }, { functionResponse: { name: 'get_weather', response: { temp: 25 } } }],
      },
    ]);
  });

  it('stream round trip: the call streams as id and name, then its arguments; tool_choice names the function', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.gemini.enqueue({
      kind: 'stream',
      events: [geminiResponse({ calls: [{ name: 'get_weather', args: { city: 'Oslo' } }], usage: usageMetadata(25, 8) })],
    });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      stream: true,
    });
    const chunks = await collect(stream);
    const [call] = toolCallsOf(chunks);
    expect(call).toMatchObject({ name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(call!.id).toMatch(/^call_/);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(env.gemini.requests[0]).toMatchObject({ stream: true, body: { toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } } } });

    env.gemini.enqueue({ kind: 'stream', events: textEvents(['It is', ' snowing.'], usageMetadata(40, 4)) });
    const next = await client.chat.completions.create({
      model: MODEL,
      tools: [weatherTool],
      stream: true,
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [{ id: call!.id, type: 'function', function: { name: call!.name, arguments: call!.arguments } }] },
        { role: 'tool', tool_call_id: call!.id, content: '{"sky":"snow"}' },
      ],
    });
    expect(textOf(await collect(next))).toBe('It is snowing.');
    expect(env.gemini.requests[1]!.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Oslo?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Oslo' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { sky: 'snow' } } }] },
    ]);
  });

  it('a tool result whose tool_call_id matches no call is refused before Google is called', async () => {
    const { client, key } = await funded(env.gw, 10_000);
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }, { role: 'tool', tool_call_id: 'call_nope', content: 'x' }] }));
    expect(error.status).toBe(400);
    expect(error.param).toBe('messages.1.tool_call_id');
    expect(env.gemini.requests).toHaveLength(0);
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });
});

describe('Gemini chat: streams and billing', () => {
  it('stream and non-stream give the same text and the same charge', async () => {
    const { client } = await funded(env.gw, 100_000);
    const usage = usageMetadata(20, 6);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'The quick brown fox.', usage }) });
    env.gemini.enqueue({ kind: 'stream', events: textEvents(['The quick', ' brown', ' fox.'], usage) });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Fox?' }];

    const { data: whole, response: wholeResponse } = await client.chat.completions.create({ model: MODEL, messages }).withResponse();
    const { data: stream, response: streamResponse } = await client.chat.completions.create({ model: MODEL, messages, stream: true }).withResponse();
    const chunks = await collect(stream);

    expect(textOf(chunks)).toBe(whole.choices[0]!.message.content);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false); // the client did not ask for usage
    expect(env.gemini.requests[1]!.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    const wholeRow = await settledUsage(env, wholeResponse.headers.get('x-request-id')!);
    const streamRow = await settledUsage(env, streamResponse.headers.get('x-request-id')!);
    expect(streamRow).toMatchObject({ input_tokens: 20, output_tokens: 6, usage_source: 'provider', status: 'ok', stream: true });
    expect(streamRow.cost).toBe(wholeRow.cost);
    expect(streamRow.cost).toBe(chargeFor({ inputTokens: 20, cachedInputTokens: 0, outputTokens: 6 }, GEMINI_FLASH));
  });

  it.each([false, true])('thoughts bill as output and cached tokens at the cached rate, to the token (stream: %s)', async (streamed) => {
    const start = 100_000;
    const { client, key } = await funded(env.gw, start);
    const usage = usageMetadata(1000, 200, { thoughts: 300, cached: 600 });
    env.gemini.enqueue(streamed ? { kind: 'stream', events: textEvents(['Deep', ' thought.'], usage) } : { kind: 'json', body: geminiResponse({ text: 'Deep thought.', usage }) });
    const openAIUsage = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 600 }, completion_tokens_details: { reasoning_tokens: 300 } };

    let requestId: string;
    if (streamed) {
      const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Think' }], stream: true, stream_options: { include_usage: true } }).withResponse();
      const chunks = await collect(data);
      const usageChunks = chunks.filter((c) => c.usage);
      expect(usageChunks).toHaveLength(1);
      expect(usageChunks[0]!.choices).toEqual([]);
      expect(usageChunks[0]!.usage).toEqual({ ...openAIUsage, cost: 1415 }); // what settlement charges, below
      requestId = response.headers.get('x-request-id')!;
    } else {
      const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Think' }] }).withResponse();
      expect(data.usage).toEqual(openAIUsage);
      requestId = response.headers.get('x-request-id')!;
    }

    // ceil((400 uncached * 300000 + 600 cached * 75000 + (200 + 300) * 2500000) / 1e6) = 1415
    const cost = chargeFor({ inputTokens: 1000, cachedInputTokens: 600, outputTokens: 500 }, GEMINI_FLASH);
    expect(cost).toBe(1415);
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ input_tokens: 1000, cached_input_tokens: 600, output_tokens: 500, reasoning_tokens: 300, cost, usage_source: 'provider' });
    expect(row.rates).toMatchObject({ input: 300000, cachedInput: 75000, output: 2500000 });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - cost, held: 0 });
  });
});

describe('Gemini chat: OpenAI parameters Gemini cannot honour', () => {
  it('ignored ones are named in x-tokengate-ignored-params (stream and non-stream); neutral values are not', async () => {
    const { key } = await funded(env.gw, 10_000);
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], user: 'u-1', metadata: { a: 'b' }, parallel_tool_calls: false, store: true, top_k: 3, logprobs: false, n: 1 };
    const response = await postChat(env.gw, key, body);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tokengate-ignored-params')).toBe('metadata, parallel_tool_calls, store, top_k, user');
    const streamed = await postChat(env.gw, key, { ...body, stream: true });
    await streamed.text();
    expect(streamed.headers.get('x-tokengate-ignored-params')).toBe('metadata, parallel_tool_calls, store, top_k, user');
    const plain = await postChat(env.gw, key, { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], store: false, parallel_tool_calls: true });
    expect(plain.headers.get('x-tokengate-ignored-params')).toBeNull();
  });

  it.each([
    ['logprobs', { logprobs: true }],
    ['top_logprobs', { top_logprobs: 3 }],
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['modalities', { modalities: ['text', 'audio'] }],
    ['web_search_options', { web_search_options: {} }],
    ['functions', { functions: [{ name: 'f', parameters: {} }] }],
  ])('%s that changes the meaning of the answer is refused with 400, before Google and unbilled', async (param, extra) => {
    const { key } = await funded(env.gw, 10_000);
    const response = await postChat(env.gw, key, { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], ...extra });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { type: string; code: string; param: string } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter', param });
    expect(env.gemini.requests).toHaveLength(0);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('GET /v1/models lists the Gemini models once the provider is configured', async () => {
    const { client } = await funded(env.gw, 10);
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gemini-2.5-flash', 'gemini-2.5-pro']));
  });
});
