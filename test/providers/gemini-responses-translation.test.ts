// The pure halves of Gemini's Responses API and embeddings, table by table: Responses bodies -> Gemini
// parameters (through the chat translation), the field policy and stateless refusals, Gemini answers ->
// Response objects and event sequences, usage, and OpenAI embeddings bodies <-> Google's embed calls.
import type { GenerateContentResponse } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/http/errors.js';
import { base64Floats, embeddingListFrom, planGeminiEmbeddings, type EmbeddingsPlan } from '../../src/providers/gemini/embeddings.js';
import { inputMessages } from '../../src/providers/gemini/responses-input.js';
import { ResponsesTranslator, responsesUsageFrom, type ResponsesEvent } from '../../src/providers/gemini/responses-output.js';
import { planResponsesRequest } from '../../src/providers/gemini/responses-request.js';

const MODEL = 'gemini-2.5-flash';
const plan = (extra: Record<string, unknown> = {}) => planResponsesRequest({ model: MODEL, input: 'Hi', ...extra });

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a 400');
}

describe('planResponsesRequest: generation config', () => {
  it.each([
    ['max_output_tokens', { max_output_tokens: 64 }, { maxOutputTokens: 64 }],
    ['temperature and top_p', { temperature: 0.2, top_p: 0.9 }, { temperature: 0.2, topP: 0.9 }],
    ['text.format text', { text: { format: { type: 'text' } } }, {}],
    ['text.format json_object', { text: { format: { type: 'json_object' } } }, { responseMimeType: 'application/json' }],
    ['text.format json_schema', { text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } } } }, { responseMimeType: 'application/json', responseJsonSchema: { type: 'object' } }],
    ['reasoning.effort', { reasoning: { effort: 'medium' } }, { thinkingConfig: { thinkingBudget: 8192 } }],
    ['instructions', { instructions: 'Be terse.' }, { systemInstruction: { parts: [{ text: 'Be terse.' }] } }],
    ['nulls are unset', { temperature: null, tools: null, text: null, reasoning: null, previous_response_id: null, store: null }, {}],
  ])('%s', (_name, extra, config) => {
    expect(plan(extra).plan.params.config).toEqual(config);
  });

  it('function tools and tool_choice become Gemini declarations and calling config', () => {
    const tools = [
      { type: 'function', name: 'a', description: 'A', parameters: { type: 'object', properties: {} }, strict: true },
      { type: 'function', name: 'b' },
    ];
    expect(plan({ tools, tool_choice: { type: 'function', name: 'b' } }).plan.params.config).toEqual({
      tools: [{ functionDeclarations: [{ name: 'a', description: 'A', parametersJsonSchema: { type: 'object', properties: {} } }, { name: 'b' }] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['b'] } },
    });
    expect(plan({ tools, tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'a' }] } }).plan.params.config.toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['a'] },
    });
    expect(plan({ tools, tool_choice: 'none' }).plan.params.config.toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
  });

  it('what the answer echoes: the request as OpenAI echoes it, store false', () => {
    expect(plan({ instructions: 'X', max_output_tokens: 9, metadata: { k: 'v' }, reasoning: { effort: 'low' } }).echo).toEqual({
      instructions: 'X',
      maxOutputTokens: 9,
      temperature: null,
      topP: null,
      tools: [],
      toolChoice: 'auto',
      textFormat: { type: 'text' },
      reasoningEffort: 'low',
      parallelToolCalls: true,
      metadata: { k: 'v' },
    });
  });
});

describe('planResponsesRequest: the field policy', () => {
  it('ignored fields are named; neutral values are not', () => {
    expect(plan({ user: 'u', service_tier: 'auto', prompt_cache_key: 'k', text: { verbosity: 'low' }, reasoning: { summary: 'auto' }, parallel_tool_calls: false }).ignored).toEqual([
      'parallel_tool_calls',
      'prompt_cache_key',
      'reasoning.summary',
      'service_tier',
      'text.verbosity',
      'user',
    ]);
    expect(plan({ store: false, truncation: 'disabled', include: [], max_tool_calls: 3, background: false, parallel_tool_calls: true, stream: true, metadata: {} }).ignored).toEqual([]);
  });

  it.each([
    ['previous_response_id', { previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['store: true', { store: true }, 'store'],
    ['item_reference', { input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]'],
    ['top_logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['a built-in tool', { tools: [{ type: 'function', name: 'f' }, { type: 'web_search_preview' }] }, 'tools[1].type'],
    ['a built-in tool_choice', { tool_choice: { type: 'web_search_preview' } }, 'tool_choice'],
  ])('%s is refused with unsupported_parameter', (_name, extra, param) => {
    expect(refusal(() => plan(extra))).toMatchObject({ status: 400, code: 'unsupported_parameter', param });
  });

  it.each([
    ['a temperature out of range', { temperature: 3 }, 'temperature'],
    ['a nameless function tool', { tools: [{ type: 'function', name: '' }] }, 'tools[0].name'],
    ['a json_schema without a schema', { text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema'],
    ['an unknown reasoning effort', { reasoning: { effort: 'max' } }, 'reasoning.effort'],
    ['a tool_choice naming an undeclared function', { tools: [{ type: 'function', name: 'a' }], tool_choice: { type: 'function', name: 'z' } }, 'tool_choice'],
  ])('%s is a 400 naming the Responses field', (_name, extra, param) => {
    expect(refusal(() => plan(extra))).toMatchObject({ status: 400, param });
  });
});

describe('inputMessages', () => {
  it('maps items to chat messages: roles, parts, grouped function calls and their outputs', () => {
    const messages = inputMessages(
      [
        { role: 'system', content: [{ type: 'input_text', text: 'S' }] },
        { role: 'user', content: [{ type: 'input_text', text: 'U' }, { type: 'input_image', image_url: 'https://x.test/a.png' }, { type: 'input_audio', input_audio: { data: 'AAA=', format: 'wav' } }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.', annotations: [] }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '' },
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'two' }] },
        { type: 'function_call_output', call_id: 'c1', output: '{"ok":true}' },
      ],
      'I',
    );
    expect(messages).toEqual([
      { role: 'system', content: 'I' },
      { role: 'system', content: 'S' },
      { role: 'user', content: [{ type: 'text', text: 'U' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }, { type: 'input_audio', input_audio: { data: 'AAA=', format: 'wav' } }] },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
          { id: 'c2', type: 'function', function: { name: 'g', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
      { role: 'tool', tool_call_id: 'c1', content: '{"ok":true}' },
    ]);
  });

  it.each([
    ['no user or assistant message', [{ role: 'system', content: 'S' }], 'input'],
    ['an unknown role', [{ role: 'tool', content: 'x' }], 'input[0].role'],
    ['a file id image', [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }], 'input[0].content[0].image_url'],
    ['an input_file', [{ role: 'user', content: [{ type: 'input_file', file_data: 'data:application/pdf;base64,AA==' }] }], 'input[0].content[0]'],
    ['arguments that are not a JSON object', [{ role: 'user', content: 'x' }, { type: 'function_call', call_id: 'c', name: 'f', arguments: '[1]' }], 'input[1].arguments'],
    ['an output for an unknown call', [{ role: 'user', content: 'x' }, { type: 'function_call_output', call_id: 'c', output: 'x' }], 'input[1].call_id'],
    ['an image in a function output', [{ role: 'user', content: 'x' }, { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image', image_url: 'https://x.test/a.png' }] }], 'input[2].output[0]'],
    ['a built-in tool call item', [{ type: 'web_search_call', id: 'ws_1', status: 'completed' }], 'input[0].type'],
  ])('%s is a 400 naming the item', (_name, input, param) => {
    expect(refusal(() => inputMessages(input, null))).toMatchObject({ status: 400, param });
  });
});

const answer = (parts: Record<string, unknown>[], finishReason: string | undefined, usage?: Record<string, number>): GenerateContentResponse =>
  ({ candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}) }], ...(usage ? { usageMetadata: usage } : {}) }) as unknown as GenerateContentResponse;

function translator(): ResponsesTranslator {
  return new ResponsesTranslator({ id: 'resp_gemini_t', createdAt: 1, model: MODEL }, plan().echo);
}

describe('ResponsesTranslator', () => {
  it('a text answer: created, in_progress, item and part added, deltas, done events, completed with usage', () => {
    const t = translator();
    const events: ResponsesEvent[] = [...t.start(), ...t.push(answer([{ text: 'Hel' }], undefined)), ...t.push(answer([{ text: 'lo' }, { text: 'ignored thought', thought: true }], 'STOP', { promptTokenCount: 5, candidatesTokenCount: 2 }))];
    expect(t.complete).toBe(true);
    events.push(...t.finish());
    expect(events.map((e) => [e.sequence_number, e.type])).toEqual(
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ].map((type, i) => [i, type]),
    );
    expect(events[6]).toMatchObject({ text: 'Hello', output_index: 0, content_index: 0 });
    expect(events.at(-1)!.response).toMatchObject({
      id: 'resp_gemini_t',
      status: 'completed',
      store: false,
      output: [{ type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }] }],
      usage: { input_tokens: 5, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 7 },
    });
  });

  it.each([
    ['MAX_TOKENS', 'incomplete', { reason: 'max_output_tokens' }],
    ['SAFETY', 'incomplete', { reason: 'content_filter' }],
    ['STOP', 'completed', null],
    ['MALFORMED_FUNCTION_CALL', 'completed', null],
  ])('finishReason %s -> status %s', (finishReason, status, details) => {
    const t = translator();
    t.push(answer([{ text: 'x' }], finishReason));
    expect(t.final()).toMatchObject({ status, incomplete_details: details, output: [{ status: status === 'incomplete' ? 'incomplete' : 'completed' }] });
  });

  it('a whole answer with text and calls: one message item, then one function_call item per call', () => {
    const t = translator();
    t.push(answer([{ text: 'Checking.' }, { functionCall: { id: 'g1', name: 'f', args: { a: 1 } } }, { functionCall: { name: 'g' } }], 'STOP'));
    const output = t.final().output as Record<string, unknown>[];
    expect(output.map((item) => [item.type, item.status])).toEqual([
      ['message', 'completed'],
      ['function_call', 'completed'],
      ['function_call', 'completed'],
    ]);
    expect(output[1]).toMatchObject({ call_id: 'g1', name: 'f', arguments: '{"a":1}', id: expect.stringMatching(/^fc_/) });
    expect(output[2]).toMatchObject({ call_id: expect.stringMatching(/^call_/), name: 'g', arguments: '{}' });
  });

  it('without usage the Response carries usage null (the core then estimates)', () => {
    const t = translator();
    t.push(answer([{ text: 'x' }], 'STOP'));
    expect(t.final().usage).toBeNull();
    expect(responsesUsageFrom({ promptTokenCount: 10, candidatesTokenCount: 3, thoughtsTokenCount: 4, cachedContentTokenCount: 6 })).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 6 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 4 },
      total_tokens: 17,
    });
  });
});

describe('planGeminiEmbeddings and embeddingListFrom', () => {
  it.each([
    ['one string', { input: 'a' }, 'embedContent', { content: { parts: [{ text: 'a' }] } }],
    ['one string with dimensions', { input: 'a', dimensions: 256 }, 'embedContent', { content: { parts: [{ text: 'a' }] }, outputDimensionality: 256 }],
    ['a list', { input: ['a', 'b'] }, 'batchEmbedContents', { requests: ['a', 'b'].map((text) => ({ model: 'models/gemini-embedding-001', content: { parts: [{ text }] } })) }],
  ])('%s', (_name, body, method, payload) => {
    const planned = planGeminiEmbeddings({ model: 'gemini-embedding-001', ...body }, 'gemini-embedding-001');
    expect(planned).toMatchObject({ ok: true, value: { method, payload, base64: true, ignored: [] } });
  });

  it.each([
    ['token ids', { input: [1, 2, 3] }],
    ['token arrays', { input: [[1], [2]] }],
    ['101 inputs', { input: Array.from({ length: 101 }, () => 'a') }],
  ])('%s are refused (400, input)', (_name, body) => {
    expect(planGeminiEmbeddings({ model: 'm', ...body }, 'm')).toMatchObject({ ok: false, error: { status: 400, body: { error: { param: 'input' } } } });
  });

  const batch = (inputs: number, base64 = false): EmbeddingsPlan => ({ method: 'batchEmbedContents', payload: {}, inputs, base64, ignored: [] });

  it('floats or base64, one entry per input in order; a short or malformed answer is 502', () => {
    expect(embeddingListFrom({ embeddings: [{ values: [0.5] }, { values: [-1] }] }, batch(2), 'm')).toEqual({
      ok: true,
      value: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5] }, { object: 'embedding', index: 1, embedding: [-1] }], model: 'm' },
    });
    expect(embeddingListFrom({ embedding: { values: [0.5, 2] } }, { ...batch(1, true), method: 'embedContent' }, 'm')).toMatchObject({ ok: true, value: { data: [{ embedding: base64Floats([0.5, 2]) }] } });
    for (const json of [{ embeddings: [{ values: [1] }] }, { embeddings: [{ values: ['x'] }, { values: [1] }] }, null]) {
      expect(embeddingListFrom(json, batch(2), 'm')).toMatchObject({ ok: false, error: { status: 502, body: { error: { code: 'upstream_malformed' } } } });
    }
  });

  it('base64Floats is little-endian float32', () => {
    expect(base64Floats([1, -2])).toBe(Buffer.from([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]).toString('base64'));
  });
});
