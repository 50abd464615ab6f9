import { describe, expect, it } from 'vitest';
import {
  OpenAIStreamMeter,
  requestWantsUsage,
  withIncludeUsage,
  type OpenAIStreamResult,
} from '../../src/metering/openai-stream.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Chunk = Record<string, unknown>;

const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', system_fingerprint: 'fp_1' };

function contentChunk(delta: Chunk, finishReason: string | null = null, extra: Chunk = {}): Chunk {
  return { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], usage: null, ...extra };
}

const openAIUsage = {
  prompt_tokens: 19,
  completion_tokens: 6,
  total_tokens: 25,
  prompt_tokens_details: { cached_tokens: 8, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 2, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};
const mappedUsage = { inputTokens: 19, cachedInputTokens: 8, outputTokens: 6, reasoningTokens: 2 };

const usageChunk: Chunk = { ...base, choices: [], usage: openAIUsage };

/** A typical include_usage stream, with multi-byte text so byte splits land inside characters. */
const textChunks: Chunk[] = [
  contentChunk({ role: 'assistant', content: '', refusal: null }),
  contentChunk({ content: 'Héllo' }),
  contentChunk({ content: ' wörld 🌍' }),
  contentChunk({}, 'stop'),
];

const expectedText = 'Héllo wörld 🌍';

function event(chunk: Chunk | string, eol = '\n'): string {
  const data = typeof chunk === 'string' ? chunk : JSON.stringify(chunk);
  return `data: ${data}${eol}${eol}`;
}

function sse(chunks: Array<Chunk | string>, eol = '\n'): string {
  return chunks.map((chunk) => event(chunk, eol)).join('');
}

type Run = { output: string; result: OpenAIStreamResult };

async function run(input: string | Uint8Array[], stripUsageChunk: boolean): Promise<Run> {
  const reads = typeof input === 'string' ? [encoder.encode(input)] : input;
  const meter = new OpenAIStreamMeter({ stripUsageChunk });
  const parts: Uint8Array[] = [];
  for (const read of reads) parts.push(...meter.push(read));
  parts.push(...meter.end());
  return { output: decoder.decode(concat(parts)), result: meter.result() };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function bytesOneByOne(text: string): Uint8Array[] {
  return [...encoder.encode(text)].map((byte) => Uint8Array.of(byte));
}

function splitAt(text: string, index: number): Uint8Array[] {
  const bytes = encoder.encode(text);
  return [bytes.slice(0, index), bytes.slice(index)];
}

const fullStream = sse([...textChunks, usageChunk, '[DONE]']);
const strippedStream = sse([...textChunks, '[DONE]']);

describe('OpenAIStreamMeter pass-through', () => {
  it('forwards every byte unchanged when not stripping, and records the stream', async () => {
    const input = `: OPENROUTER PROCESSING\n\n${fullStream}`;
    const { output, result } = await run(input, false);
    expect(output).toBe(input);
    expect(result).toEqual({ usage: mappedUsage, generated: { content: expectedText, toolCalls: [] }, sawDone: true, error: null });
  });

  it('forwards events it does not understand untouched, even when stripping', async () => {
    const input = [
      ': keep-alive\n\n',
      'event: ping\ndata: {"type":"ping"}\n\n',
      'data: not json\n\n',
      'retry: 1000\n\n',
      'data: {"choices":[]}\n\n',
      'data: [1,2]\n\n',
      sse(['[DONE]']),
    ].join('');
    const { output, result } = await run(input, true);
    expect(output).toBe(input);
    expect(result.sawDone).toBe(true);
    expect(result.usage).toBeNull();
  });

  it('removes exactly the usage-only chunk when stripping', async () => {
    const { output, result } = await run(fullStream, true);
    expect(output).toBe(strippedStream);
    expect(result.usage).toEqual(mappedUsage);
    expect(result.generated.content).toBe(expectedText);
  });

  it('removes a usage chunk that has no choices field at all', async () => {
    const { choices: _omitted, ...noChoices } = usageChunk;
    const { output, result } = await run(sse([...textChunks, noChoices, '[DONE]']), true);
    expect(output).toBe(strippedStream);
    expect(result.usage).toEqual(mappedUsage);
  });

  it('keeps the content of a chunk that carries usage, removing only the usage field', async () => {
    const last = contentChunk({ content: '!' }, 'stop', { usage: openAIUsage });
    const { usage: _dropped, ...lastWithoutUsage } = last;
    const input = sse([...textChunks.slice(0, 3), last, '[DONE]']);

    const stripped = await run(input, true);
    expect(stripped.output).toBe(sse([...textChunks.slice(0, 3), lastWithoutUsage, '[DONE]']));
    expect(stripped.result.usage).toEqual(mappedUsage);
    expect(stripped.result.generated.content).toBe(`${expectedText}!`);

    const kept = await run(input, false);
    expect(kept.output).toBe(input);
  });

  it('keeps event and id fields and the line ending when re-serializing', async () => {
    const last = contentChunk({ content: '!' }, 'stop', { usage: openAIUsage });
    const { usage: _dropped, ...lastWithoutUsage } = last;
    const input = `id: 7\r\nevent: message\r\ndata: ${JSON.stringify(last)}\r\n\r\n`;
    const { output } = await run(input, true);
    expect(output).toBe(`event: message\r\nid: 7\r\ndata: ${JSON.stringify(lastWithoutUsage)}\r\n\r\n`);
  });
});

describe('OpenAIStreamMeter framing', () => {
  it.each([
    { eol: '\n', stripUsageChunk: false },
    { eol: '\n', stripUsageChunk: true },
    { eol: '\r\n', stripUsageChunk: false },
    { eol: '\r\n', stripUsageChunk: true },
    { eol: '\r', stripUsageChunk: true },
  ])('gives the same output and result when fed byte by byte (eol $eol, strip $stripUsageChunk)', async ({ eol, stripUsageChunk }) => {
    const input = sse([...textChunks, usageChunk, '[DONE]'], eol);
    const whole = await run(input, stripUsageChunk);
    const byteByByte = await run(bytesOneByOne(input), stripUsageChunk);
    expect(whole.output).toBe(stripUsageChunk ? sse([...textChunks, '[DONE]'], eol) : input);
    expect(byteByByte.output).toBe(whole.output);
    expect(byteByByte.result).toEqual(whole.result);
    expect(whole.result.usage).toEqual(mappedUsage);
    expect(whole.result.generated.content).toBe(expectedText);
  });

  it.each([
    { eol: '\n', stripUsageChunk: true },
    { eol: '\r\n', stripUsageChunk: true },
    { eol: '\r\n', stripUsageChunk: false },
  ])('gives the same output when split in two at every byte (eol $eol, strip $stripUsageChunk)', async ({ eol, stripUsageChunk }) => {
    const input = sse([...textChunks, usageChunk, '[DONE]'], eol);
    const whole = await run(input, stripUsageChunk);
    const length = encoder.encode(input).length;
    for (let index = 0; index <= length; index++) {
      const split = await run(splitAt(input, index), stripUsageChunk);
      expect(split.output, `split at byte ${index}`).toBe(whole.output);
      expect(split.result, `split at byte ${index}`).toEqual(whole.result);
    }
  });

  it('reads a last event that lacks its blank line', async () => {
    const input = `${sse([...textChunks, usageChunk])}data: [DONE]`;
    const { output, result } = await run(input, false);
    expect(output).toBe(input);
    expect(result.sawDone).toBe(true);
    expect(result.usage).toEqual(mappedUsage);
  });
});

describe('OpenAIStreamMeter recording', () => {
  it('accumulates tool call names and arguments per index', async () => {
    const toolCall = (index: number, fn: Chunk, id?: string) => ({
      index,
      ...(id ? { id, type: 'function' } : {}),
      function: fn,
    });
    const input = sse([
      contentChunk({ role: 'assistant', content: null, tool_calls: [toolCall(0, { name: 'get_weather', arguments: '' }, 'call_a')] }),
      contentChunk({ tool_calls: [toolCall(0, { arguments: '{"ci' })] }),
      contentChunk({ tool_calls: [toolCall(1, { name: 'get_time', arguments: '' }, 'call_b')] }),
      contentChunk({ tool_calls: [toolCall(0, { arguments: 'ty":"Paris"}' })] }),
      contentChunk({ tool_calls: [toolCall(1, { arguments: '{"tz":"CET"}' })] }),
      contentChunk({}, 'tool_calls'),
      '[DONE]',
    ]);
    const { output, result } = await run(bytesOneByOne(input), true);
    expect(output).toBe(input);
    expect(result.generated).toEqual({
      content: '',
      toolCalls: [
        { name: 'get_weather', arguments: '{"city":"Paris"}' },
        { name: 'get_time', arguments: '{"tz":"CET"}' },
      ],
    });
    expect(result.usage).toBeNull();
  });

  it('records refusals and legacy function calls as generated text', async () => {
    const input = sse([
      contentChunk({ refusal: 'I can' }),
      contentChunk({ refusal: 'not.' }),
      contentChunk({ function_call: { name: 'f', arguments: '{"a"' } }),
      contentChunk({ function_call: { arguments: ':1}' } }),
      '[DONE]',
    ]);
    const { result } = await run(input, false);
    expect(result.generated).toEqual({ content: 'I cannot.', toolCalls: [{ name: 'f', arguments: '{"a":1}' }] });
  });

  it('records an error object sent inside the stream', async () => {
    const error = { message: 'The server had an error', type: 'server_error', param: null, code: null };
    const input = sse([textChunks[0]!, textChunks[1]!, { error }]);
    const { output, result } = await run(input, true);
    expect(output).toBe(input);
    expect(result.error).toEqual(error);
    expect(result.sawDone).toBe(false);
    expect(result.generated.content).toBe('Héllo');
  });

  it('keeps what was generated when the stream stops midway (client gone: end() is never called)', async () => {
    const meter = new OpenAIStreamMeter({ stripUsageChunk: true });
    const frames = textChunks.slice(0, 3).map((chunk) => encoder.encode(event(chunk)));
    const received = frames.flatMap((frame) => meter.push(frame)).map((out) => decoder.decode(out));

    expect(received.join('')).toBe(sse(textChunks.slice(0, 3)));
    expect(meter.result()).toEqual({
      usage: null,
      generated: { content: expectedText, toolCalls: [] },
      sawDone: false,
      error: null,
    });
    expect(meter.reading()).toEqual({ usage: null, completed: false, error: null, generatedOutput: true });
  });
});

describe('stream_options helpers', () => {
  it.each([
    { body: {}, wants: false },
    { body: { stream_options: null }, wants: false },
    { body: { stream_options: {} }, wants: false },
    { body: { stream_options: { include_usage: false } }, wants: false },
    { body: { stream_options: { include_usage: true } }, wants: true },
  ])('requestWantsUsage($body) is $wants', ({ body, wants }) => {
    expect(requestWantsUsage(body)).toBe(wants);
  });

  it.each([
    { body: { model: 'm', stream: true }, expected: { model: 'm', stream: true, stream_options: { include_usage: true } } },
    { body: { stream_options: null }, expected: { stream_options: { include_usage: true } } },
    {
      body: { stream_options: { include_usage: false, include_obfuscation: false } },
      expected: { stream_options: { include_usage: true, include_obfuscation: false } },
    },
  ])('withIncludeUsage sets include_usage and keeps the rest', ({ body, expected }) => {
    const before = structuredClone(body);
    expect(withIncludeUsage(body)).toEqual(expected);
    expect(body).toEqual(before);
  });
});

describe('OpenAIStreamMeter scans for usage and errors instead of parsing every chunk', () => {
  it('generated text that looks like usage or an error is neither (JSON escapes its quotes)', async () => {
    const tricky = '{"usage": {"prompt_tokens": 999}, "error": {"message": "no"}}';
    const input = sse([contentChunk({ content: tricky }), usageChunk, '[DONE]']);
    const { output, result } = await run(input, false);
    expect(output).toBe(input);
    expect(result).toEqual({ usage: mappedUsage, generated: { content: tricky, toolCalls: [] }, sawDone: true, error: null });
  });

  it('an error chunk is read, and the output before it is kept in order', async () => {
    const input = sse([contentChunk({ content: 'Hello' }), { error: { message: 'overloaded', type: 'server_error' } }, contentChunk({ content: ' again' })]);
    const { result } = await run(input, false);
    expect(result.error).toEqual({ message: 'overloaded', type: 'server_error' });
    expect(result.generated.content).toBe('Hello again');
    expect(result.usage).toBeNull();
  });

  it('a long stream without usage keeps its whole output (parsed in bounded batches)', async () => {
    const piece = 'x'.repeat(1000);
    const chunks = Array.from({ length: 600 }, () => contentChunk({ content: piece }));
    const { result } = await run(sse([...chunks, '[DONE]']), false);
    expect(result.generated.content).toBe(piece.repeat(600));
  });
});
