// The pure halves of the Gemini adapter, table by table: OpenAI bodies -> Gemini parameters, Gemini
// answers -> OpenAI completions and chunks, usage, finish reasons and Google's errors.
import type { GenerateContentResponse } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/http/errors.js';
import { mapGoogleError, parseGoogleError } from '../../src/providers/gemini/errors.js';
import { imageTypeOf, translateMessages } from '../../src/providers/gemini/messages.js';
import { planGeminiRequest } from '../../src/providers/gemini/request.js';
import { completionFrom, finishReasonOf, usageFrom } from '../../src/providers/gemini/response.js';
import type { ChatMessage } from '../../src/providers/gemini/schema.js';
import { ChunkTranslator } from '../../src/providers/gemini/stream.js';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const body = (extra: Record<string, unknown> = {}) => ({ model: 'gemini-2.5-flash', messages: [user('Hi')], ...extra });

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a 400');
}

describe('planGeminiRequest: generation config', () => {
  it.each([
    ['max_tokens', { max_tokens: 10 }, { maxOutputTokens: 10 }],
    ['max_completion_tokens wins over max_tokens', { max_tokens: 10, max_completion_tokens: 20 }, { maxOutputTokens: 20 }],
    ['temperature, top_p, seed', { temperature: 0, top_p: 0.5, seed: 42 }, { temperature: 0, topP: 0.5, seed: 42 }],
    ['penalties', { presence_penalty: 0.5, frequency_penalty: -0.5 }, { presencePenalty: 0.5, frequencyPenalty: -0.5 }],
    ['stop as a string', { stop: 'END' }, { stopSequences: ['END'] }],
    ['stop as a list', { stop: ['a', 'b'] }, { stopSequences: ['a', 'b'] }],
    ['response_format text', { response_format: { type: 'text' } }, {}],
    ['response_format json_object', { response_format: { type: 'json_object' } }, { responseMimeType: 'application/json' }],
    ['json_schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } }, { responseMimeType: 'application/json', responseJsonSchema: { type: 'object' } }],
    ['reasoning_effort none', { reasoning_effort: 'none' }, { thinkingConfig: { thinkingBudget: 0 } }],
    ['reasoning_effort medium', { reasoning_effort: 'medium' }, { thinkingConfig: { thinkingBudget: 8192 } }],
    ['reasoning_effort high', { reasoning_effort: 'high' }, { thinkingConfig: { thinkingBudget: 24576 } }],
    ['nulls are unset', { temperature: null, stop: null, response_format: null, tools: null }, {}],
  ])('%s', (_name, extra, config) => {
    expect(planGeminiRequest(body(extra)).params.config).toEqual(config);
  });

  it('include_usage is read from stream_options', () => {
    expect(planGeminiRequest(body({ stream: true, stream_options: { include_usage: true } })).includeUsage).toBe(true);
    expect(planGeminiRequest(body({ stream: true })).includeUsage).toBe(false);
  });
});

describe('planGeminiRequest: tools and tool_choice', () => {
  const tool = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } });
  const tools = [tool('a'), tool('b')];

  it.each([
    ['none', 'none', { mode: 'NONE' }],
    ['auto', 'auto', { mode: 'AUTO' }],
    ['required', 'required', { mode: 'ANY' }],
    ['a named function', { type: 'function', function: { name: 'b' } }, { mode: 'ANY', allowedFunctionNames: ['b'] }],
    ['allowed_tools required', { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'a' } }] } }, { mode: 'ANY', allowedFunctionNames: ['a'] }],
  ])('tool_choice %s', (_name, choice, calling) => {
    const { config } = planGeminiRequest(body({ tools, tool_choice: choice })).params;
    expect(config.toolConfig).toEqual({ functionCallingConfig: calling });
    expect(config.tools).toEqual([{ functionDeclarations: [{ name: 'a', parametersJsonSchema: { type: 'object', properties: {} } }, { name: 'b', parametersJsonSchema: { type: 'object', properties: {} } }] }]);
  });

  it('allowed_tools in auto mode narrows the declarations, since Gemini restricts names only when a call is required', () => {
    const choice = { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'b' } }] } };
    const { config } = planGeminiRequest(body({ tools, tool_choice: choice })).params;
    expect(config.tools).toEqual([{ functionDeclarations: [{ name: 'b', parametersJsonSchema: { type: 'object', properties: {} } }] }]);
    expect(config.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
  });

  it.each([
    ['a function not in tools', { tools, tool_choice: { type: 'function', function: { name: 'zzz' } } }, 'tool_choice'],
    ['tool_choice without tools', { tool_choice: 'required' }, 'tool_choice'],
    ['a custom tool', { tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools.0.type'],
  ])('refuses %s', (_name, extra, param) => {
    expect(refusal(() => planGeminiRequest(body(extra)))).toMatchObject({ status: 400, param });
  });
});

describe('planGeminiRequest: parameters Gemini cannot honour', () => {
  it.each([
    ['n: 2', { n: 2 }, 'n'],
    ['logprobs: true', { logprobs: true }, 'logprobs'],
    ['top_logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['a non-empty logit_bias', { logit_bias: { '1': 5 } }, 'logit_bias'],
    ['audio output', { modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } }, 'modalities'],
    ['web search', { web_search_options: { search_context_size: 'low' } }, 'web_search_options'],
    ['functions', { functions: [] }, 'functions'],
    ['function_call', { function_call: 'auto' }, 'function_call'],
  ])('refuses %s with 400 unsupported_parameter', (_name, extra, param) => {
    expect(refusal(() => planGeminiRequest(body(extra)))).toMatchObject({ status: 400, code: 'unsupported_parameter', param });
  });

  it.each([
    ['neutral values', { n: 1, logprobs: false, logit_bias: {}, modalities: ['text'], store: false, parallel_tool_calls: true }, []],
    ['ids and bookkeeping', { user: 'u', safety_identifier: 's', prompt_cache_key: 'k', metadata: {}, store: true, service_tier: 'auto' }, ['metadata', 'prompt_cache_key', 'safety_identifier', 'service_tier', 'store', 'user']],
    ['hints', { parallel_tool_calls: false, prediction: { type: 'content', content: 'x' }, verbosity: 'low' }, ['parallel_tool_calls', 'prediction', 'verbosity']],
    ['unknown fields', { top_k: 5 }, ['top_k']],
  ])('%s: ignored ones are listed, sorted', (_name, extra, ignored) => {
    expect(planGeminiRequest(body(extra)).ignored).toEqual(ignored);
  });

  it.each([
    ['temperature: "x"', { temperature: 'x' }, 'temperature'],
    ['top_p above 1', { top_p: 2 }, 'top_p'],
    ['stop as a number', { stop: 5 }, 'stop'],
    ['reasoning_effort: "max"', { reasoning_effort: 'max' }, 'reasoning_effort'],
    ['content as a number', { messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
    ['an unknown role', { messages: [{ role: 'function', content: 'x', name: 'f' }] }, 'messages.0.role'],
  ])('refuses a badly typed %s, naming it', (_name, extra, param) => {
    expect(refusal(() => planGeminiRequest(body(extra)))).toMatchObject({ status: 400, param });
  });
});

describe('translateMessages', () => {
  it.each<[string, ChatMessage[], unknown]>([
    ['a user turn', [user('Hi')], { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] }],
    [
      'system and developer anywhere go to the systemInstruction, in order',
      [{ role: 'system', content: 'A' }, user('Hi'), { role: 'developer', content: 'B' }],
      { systemInstruction: { parts: [{ text: 'A' }, { text: 'B' }] }, contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] },
    ],
    [
      'consecutive turns of one role are merged; empty text is left out',
      [user('a'), user(''), { role: 'assistant', content: 'b' }, { role: 'assistant', content: [{ type: 'text', text: 'c' }] }],
      { contents: [{ role: 'user', parts: [{ text: 'a' }] }, { role: 'model', parts: [{ text: 'b' }, { text: 'c' }] }] },
    ],
    [
      'audio and files go inline',
      [
        {
          role: 'user',
          content: [
            { type: 'input_audio', input_audio: { data: 'QUFB', format: 'wav' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' } },
          ],
        },
      ],
      { contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'audio/wav', data: 'QUFB' } }, { inlineData: { mimeType: 'application/pdf', data: 'JVBE' } }] }] },
    ],
    [
      'empty tool arguments are an empty object; a non-JSON-object result goes under output',
      [
        user('go'),
        { role: 'assistant', content: null, tool_calls: [{ id: 'x1', type: 'function', function: { name: 'now', arguments: '' } }] },
        { role: 'tool', tool_call_id: 'x1', content: [{ type: 'text', text: '[1,2]' }] },
      ],
      {
        contents: [
          { role: 'user', parts: [{ text: 'go' }] },
          { role: 'model', parts: [{ functionCall: { name: 'now', args: {} } }] },
          { role: 'user', parts: [{ functionResponse: { name: 'now', response: { output: '[1,2]' } } }] },
        ],
      },
    ],
  ])('%s', (_name, messages, expected) => {
    expect(translateMessages(messages)).toEqual(expected);
  });

  it.each<[string, ChatMessage[], string]>([
    ['only a system message', [{ role: 'system', content: 'x' }], 'messages'],
    ['tool arguments that are not JSON', [user('x'), { role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }], 'messages.1.tool_calls.0.function.arguments'],
    ['an image that is neither http nor data', [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }], 'messages.0.content.0.image_url.url'],
    ['a file given by OpenAI file id', [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }], 'messages.0.content.0.file'],
  ])('refuses %s', (_name, messages, param) => {
    expect(refusal(() => translateMessages(messages))).toMatchObject({ status: 400, param });
  });

  it.each([
    ['https://x.test/a.PNG', 'image/png'],
    ['https://x.test/a.jpg?x=1', 'image/jpeg'],
    ['https://x.test/photo', 'image/jpeg'],
    ['https://x.test/a.heic', 'image/heic'],
  ])('the MIME type of %s is %s', (url, type) => {
    expect(imageTypeOf(url)).toBe(type);
  });
});

describe('usageFrom', () => {
  it.each([
    ['plain', { promptTokenCount: 10, candidatesTokenCount: 5 }, [10, 0, 5, 0]],
    ['thoughts bill as output', { promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 7 }, [10, 0, 12, 7]],
    ['cached is a subset of the prompt', { promptTokenCount: 10, cachedContentTokenCount: 4, candidatesTokenCount: 1 }, [10, 4, 1, 0]],
    ['tool-use prompt tokens are input', { promptTokenCount: 10, toolUsePromptTokenCount: 3, candidatesTokenCount: 1 }, [13, 0, 1, 0]],
    ['no candidates yet', { promptTokenCount: 10 }, [10, 0, 0, 0]],
  ])('%s', (_name, metadata, [prompt, cached, completion, reasoning]) => {
    expect(usageFrom(metadata)).toEqual({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt! + completion!,
      prompt_tokens_details: { cached_tokens: cached },
      completion_tokens_details: { reasoning_tokens: reasoning },
    });
  });

  it.each([
    ['absent', undefined],
    ['without a prompt count', { candidatesTokenCount: 3 }],
    ['with a negative count', { promptTokenCount: -1 }],
  ])('is null when %s, so the core estimates', (_name, metadata) => {
    expect(usageFrom(metadata)).toBeNull();
  });
});

describe('finishReasonOf', () => {
  it.each([
    ['STOP', false, 'stop'],
    ['STOP', true, 'tool_calls'],
    ['MAX_TOKENS', true, 'length'],
    ['SAFETY', false, 'content_filter'],
    ['RECITATION', false, 'content_filter'],
    ['PROHIBITED_CONTENT', false, 'content_filter'],
    ['SPII', false, 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', false, 'stop'],
    ['OTHER', false, 'stop'],
    [undefined, false, 'stop'],
  ])('%s (tool calls: %s) -> %s', (reason, calls, expected) => {
    expect(finishReasonOf(reason, calls)).toBe(expected);
  });
});

const meta = { id: 'chatcmpl-x', model: 'gemini-2.5-flash', created: 1 };

describe('completionFrom', () => {
  it('joins visible text, leaves thoughts out, gives tool calls ids (Gemini\'s own when it has one)', () => {
    const response = {
      candidates: [
        {
          content: {
            role: 'model',
            parts: [{ text: 'thinking...', thought: true }, { text: 'A' }, { text: 'B' }, { functionCall: { id: 'g-1', name: 'f', args: { x: 1 } } }, { functionCall: { name: 'g' } }],
          },
          finishReason: 'STOP',
        },
      ],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 },
    } as GenerateContentResponse;
    const completion = completionFrom(response, meta) as { choices: { message: { content: string; tool_calls: { id: string; function: unknown }[] }; finish_reason: string }[] };
    const [choice] = completion.choices;
    expect(choice!.message.content).toBe('AB');
    expect(choice!.finish_reason).toBe('tool_calls');
    expect(choice!.message.tool_calls.map((c) => c.function)).toEqual([
      { name: 'f', arguments: '{"x":1}' },
      { name: 'g', arguments: '{}' },
    ]);
    expect(choice!.message.tool_calls[0]!.id).toBe('g-1');
    expect(choice!.message.tool_calls[1]!.id).toMatch(/^call_[\w-]{24}$/);
  });

  it('an answer without usage has no usage field (the core estimates)', () => {
    const completion = completionFrom({ candidates: [{ content: { role: 'model', parts: [{ text: 'x' }] }, finishReason: 'STOP' }] } as GenerateContentResponse, meta);
    expect(completion).not.toHaveProperty('usage');
  });
});

describe('ChunkTranslator', () => {
  const event = (parts: object[], finishReason?: string, usage?: object) => ({ candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}) }], ...(usage ? { usageMetadata: usage } : {}) }) as GenerateContentResponse;
  const deltas = (chunks: Record<string, unknown>[]) => chunks.map((c) => (c.choices as { delta: unknown; finish_reason: unknown }[])[0] ?? { usage: c.usage });

  it('text, then a tool call as id/name and arguments, then the finish once, then usage when asked', () => {
    const translator = new ChunkTranslator(meta, true);
    const chunks = [
      translator.start(),
      ...translator.push(event([{ text: 'Hi' }], undefined, { promptTokenCount: 5 })),
      ...translator.push(event([{ functionCall: { id: 'c1', name: 'f', args: { a: 1 } } }], 'STOP', { promptTokenCount: 5, candidatesTokenCount: 3 })),
      ...translator.end(),
    ];
    expect(deltas(chunks)).toEqual([
      { delta: { role: 'assistant', content: '', refusal: null }, finish_reason: null, index: 0, logprobs: null },
      { delta: { content: 'Hi' }, finish_reason: null, index: 0, logprobs: null },
      { delta: { tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }] }, finish_reason: null, index: 0, logprobs: null },
      { delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }, finish_reason: null, index: 0, logprobs: null },
      { delta: {}, finish_reason: 'tool_calls', index: 0, logprobs: null },
      { usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } } },
    ]);
    expect(chunks.at(-1)).toMatchObject({ object: 'chat.completion.chunk', choices: [] });
    expect(translator.complete).toBe(true);
  });

  it('no usage chunk unless include_usage; a stream without a finish reason is not complete', () => {
    const translator = new ChunkTranslator(meta, false);
    translator.push(event([{ text: 'Hi' }], undefined, { promptTokenCount: 5, candidatesTokenCount: 1 }));
    expect(translator.end()).toEqual([]);
    expect(translator.complete).toBe(false);
  });
});

describe('mapGoogleError', () => {
  it.each([
    [400, 'INVALID_ARGUMENT', [], 400, 'invalid_request_error', 'invalid_argument'],
    [400, 'INVALID_ARGUMENT', [{ reason: 'API_KEY_INVALID' }], 400, 'upstream_error', 'upstream_auth'],
    [403, 'PERMISSION_DENIED', [], 403, 'upstream_error', 'upstream_auth'],
    [404, 'NOT_FOUND', [], 404, 'invalid_request_error', 'model_not_found'],
    [429, 'RESOURCE_EXHAUSTED', [], 429, 'rate_limit_error', 'rate_limit_exceeded'],
    [500, 'INTERNAL', [], 500, 'upstream_error', 'internal'],
    [503, 'UNAVAILABLE', [], 503, 'upstream_error', 'unavailable'],
    [504, 'DEADLINE_EXCEEDED', [], 504, 'upstream_error', 'deadline_exceeded'],
  ])('%i %s %j -> %i %s %s', (httpStatus, status, details, expectedStatus, type, code) => {
    const mapped = mapGoogleError(httpStatus, { code: httpStatus, status, message: 'm', details }, 'gemini-2.5-flash');
    expect(mapped.status).toBe(expectedStatus);
    expect(mapped.body.error).toMatchObject({ type, code });
  });

  it('reads the error out of the SDK message, with or without its prefix', () => {
    expect(parseGoogleError('got status: 500 INTERNAL. {"error":{"code":500,"message":"boom","status":"INTERNAL"}}')).toEqual({ code: 500, message: 'boom', status: 'INTERNAL' });
    expect(parseGoogleError('plain text')).toEqual({ message: 'plain text' });
  });
});
