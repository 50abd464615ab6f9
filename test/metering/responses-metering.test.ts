// Pure metering of the Responses API and embeddings: usage objects, the stream meter (pass-through,
// terminal events, errors, estimates), the input walker that sizes the hold.
import { describe, expect, it } from 'vitest';
import { ToolBilling } from '../../src/billing/tool-prices.js';
import { MOST_EXPENSIVE_IMAGE_RULE } from '../../src/billing/price-table.js';
import { collectResponsesPrompt, UnboundedInputError } from '../../src/metering/responses-input.js';
import { worstImageTokens } from '../../src/metering/tokenizer-images.js';
import { AUDIO_BYTES_PER_TOKEN } from '../../src/metering/tokenizer-prompt.js';
import { generatedFromResponse } from '../../src/metering/responses-output.js';
import { ResponsesStreamMeter } from '../../src/metering/responses-stream.js';
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOOL_DEFINITIONS_OVERHEAD } from '../../src/metering/tokenizer.js';
import { usageFromEmbeddings, usageFromResponses } from '../../src/metering/usage.js';
import { functionCallItem, messageItem, responseEvents, responseObject, responsesErrorEvent, responsesUsage, sseFrames, webSearchCallItem } from '../helpers/stub-openai-responses.js';

describe('usageFromResponses', () => {
  it.each([
    { name: 'full details', usage: responsesUsage(2_000, 300, { cached: 1_536, reasoning: 256 }), expected: { inputTokens: 2_000, cachedInputTokens: 1_536, outputTokens: 300, reasoningTokens: 256 } },
    { name: 'no details', usage: { input_tokens: 5, output_tokens: 1, total_tokens: 6 }, expected: { inputTokens: 5, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 } },
    { name: 'cached above input, clamped', usage: { input_tokens: 5, output_tokens: 1, input_tokens_details: { cached_tokens: 9 } }, expected: { inputTokens: 5, cachedInputTokens: 5, outputTokens: 1, reasoningTokens: 0 } },
    { name: 'chat field names are not Responses usage', usage: { prompt_tokens: 5, completion_tokens: 1 }, expected: null },
    { name: 'a fractional count', usage: { input_tokens: 5.5, output_tokens: 1 }, expected: null },
    { name: 'a bad detail', usage: { input_tokens: 5, output_tokens: 1, output_tokens_details: { reasoning_tokens: '3' } }, expected: null },
    { name: 'null', usage: null, expected: null },
  ])('$name', ({ usage, expected }) => {
    expect(usageFromResponses(usage)).toEqual(expected);
  });
});

describe('usageFromEmbeddings', () => {
  it('bills prompt_tokens; anything else is no usage', () => {
    expect(usageFromEmbeddings({ prompt_tokens: 42, total_tokens: 42 })).toEqual({ inputTokens: 42, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 });
    expect(usageFromEmbeddings({ total_tokens: 42 })).toBeNull();
    expect(usageFromEmbeddings(undefined)).toBeNull();
  });
});

const tools = new ToolBilling({ web_search: 10_000 });
const encoder = new TextEncoder();

function meterOver(frames: string[], chunkSize = 7): { meter: ResponsesStreamMeter; out: string } {
  const meter = new ResponsesStreamMeter((items) => tools.callsIn(items));
  const bytes = encoder.encode(frames.join(''));
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(...meter.push(bytes.subarray(i, i + chunkSize)));
  out.push(...meter.end());
  return { meter, out: Buffer.concat(out).toString('utf8') };
}

describe('ResponsesStreamMeter', () => {
  const final = responseObject({ id: 'resp_m1', output: [webSearchCallItem('q'), messageItem('Sunny.')], usage: responsesUsage(100, 20, { cached: 64, reasoning: 5 }) });

  it('passes every byte through unchanged, whatever the chunking, and reads usage and tool calls from response.completed', () => {
    const frames = sseFrames(responseEvents(final));
    for (const size of [1, 7, 4096]) {
      const { meter, out } = meterOver(frames, size);
      expect(out).toBe(frames.join(''));
      expect(meter.reading()).toEqual({
        usage: { inputTokens: 100, cachedInputTokens: 64, outputTokens: 20, reasoningTokens: 5, images: 0, toolCalls: { web_search: 1 } },
        completed: true,
        error: null,
        generatedOutput: true,
      });
      expect(meter.responseId).toBe('resp_m1');
      expect(meter.nextSequenceNumber()).toBe(frames.length);
    }
  });

  it('response.failed is terminal and an error; an error event (nested or flat) is an error, not terminal', () => {
    const failed = responseObject({ status: 'failed', output: [], usage: null, error: { code: 'server_error', message: 'boom' } });
    expect(meterOver(sseFrames(responseEvents(failed))).meter.reading()).toMatchObject({ completed: true, usage: null, error: { code: 'server_error', message: 'boom' } });
    const [created] = responseEvents(final);
    const nested = meterOver(sseFrames([created!, responsesErrorEvent(1, 'rate_limit_exceeded', 'slow down')])).meter.reading();
    expect(nested).toMatchObject({ completed: false, error: { code: 'rate_limit_exceeded', message: 'slow down' }, generatedOutput: false });
    const flat = meterOver(sseFrames([created!, { type: 'error', sequence_number: 1, code: 'x', message: 'flat', param: null }])).meter.reading();
    expect(flat.error).toMatchObject({ code: 'x', message: 'flat' });
  });

  it('without a terminal event: what was generated so far and the tool calls announced, for the estimate', () => {
    const withCall = responseObject({ output: [webSearchCallItem('q'), functionCallItem('lookup', '{"id":7}'), messageItem('Partial answer')], usage: responsesUsage(1, 1) });
    const events = responseEvents(withCall, 2).slice(0, -1);
    const { meter } = meterOver(sseFrames(events));
    expect(meter.reading()).toMatchObject({ usage: null, completed: false, generatedOutput: true });
    expect(meter.generatedSoFar()).toEqual({ content: 'Partial answer', toolCalls: [{ name: 'lookup', arguments: '{"id":7}' }] });
    expect(meter.toolCallsSoFar()).toEqual({ web_search: 1 });
  });
});

describe('generatedFromResponse', () => {
  it('collects text, refusals and tool call arguments of a whole Response', () => {
    const response = responseObject({ output: [functionCallItem('lookup', '{"id":7}'), messageItem('Done.')], usage: null });
    expect(generatedFromResponse(response)).toEqual({ content: 'Done.', toolCalls: [{ name: 'lookup', arguments: '{"id":7}' }] });
  });
});

const RULES = { imageTokens: MOST_EXPENSIVE_IMAGE_RULE };
const GPT_4O_TILES = { imageTokens: { kind: 'tiles' as const, baseTokens: 85, tileTokens: 170 } };
const ONE_PIXEL_PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

describe('collectResponsesPrompt (the hold of a Responses request)', () => {
  it('counts instructions, a string input, tool definitions and the output schema', () => {
    const format = { type: 'json_schema', name: 'answer', schema: { type: 'object' } };
    const tool = { type: 'function', name: 'f', parameters: {} };
    const prompt = collectResponsesPrompt({ instructions: 'Be brief.', input: 'Hello', tools: [tool], text: { format } }, RULES);
    expect(prompt.texts).toEqual(['Be brief.', 'Hello', JSON.stringify(tool), JSON.stringify(format)]);
    expect(prompt.fixedTokens).toBe(REPLY_PRIMING_TOKENS + 2 * TOKENS_PER_MESSAGE + TOOL_DEFINITIONS_OVERHEAD);
  });

  it('counts every string of every input item, images at their bound, encrypted reasoning per character, and lists item references', () => {
    const prompt = collectResponsesPrompt(
      {
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Look:' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'high' }] },
        { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'x'.repeat(500) },
        { type: 'item_reference', id: 'msg_1' },
        { type: 'function_call_output', call_id: 'call_1', output: 'result text' },
      ],
      },
      RULES,
    );
    expect(prompt.itemReferences).toEqual(['msg_1']);
    expect(prompt.texts).toEqual(expect.arrayContaining(['Look:', 'result text', 'user']));
    expect(prompt.texts.join('')).not.toContain('base64'); // the image is not counted as text
    expect(prompt.fixedTokens).toBe(REPLY_PRIMING_TOKENS + 4 * TOKENS_PER_MESSAGE + worstImageTokens(MOST_EXPENSIVE_IMAGE_RULE) + 500);
    expect(worstImageTokens(MOST_EXPENSIVE_IMAGE_RULE)).toBe(48_169);
  });

  it("sizes an image by the model's rule and the pixel size of its data URL, and audio by its bytes", () => {
    const image = (detail: string) => ({ role: 'user', content: [{ type: 'input_image', image_url: ONE_PIXEL_PNG, detail }] });
    const base = REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE;
    expect(collectResponsesPrompt({ input: [image('high')] }, GPT_4O_TILES).fixedTokens).toBe(base + 85 + 170);
    expect(collectResponsesPrompt({ input: [image('low')] }, GPT_4O_TILES).fixedTokens).toBe(base + 85);
    const byUrl = { role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/cat.png' }] };
    expect(collectResponsesPrompt({ input: [byUrl] }, GPT_4O_TILES).fixedTokens).toBe(base + 85 + 8 * 170);
    const audio = { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'A'.repeat(4_000), format: 'wav' } }] };
    expect(collectResponsesPrompt({ input: [audio] }, RULES).fixedTokens).toBe(base + Math.ceil(3_000 / AUDIO_BYTES_PER_TOKEN));
  });

  it.each([
    ['a file', { role: 'user', content: [{ type: 'input_file', file_data: 'data:application/pdf;base64,AAAA' }] }, 'input[0].content[0]'],
    ['a file by id', { role: 'user', content: [{ type: 'input_file', file_id: 'file-123' }] }, 'input[0].content[0]'],
    ['an item reference without an id', { type: 'item_reference' }, 'input[0].id'],
  ])('refuses %s (its cost cannot be bounded)', (_name, item, param) => {
    expect(() => collectResponsesPrompt({ input: [item] }, RULES)).toThrow(UnboundedInputError);
    try {
      collectResponsesPrompt({ input: [item] }, RULES);
    } catch (error) {
      expect((error as UnboundedInputError).param).toBe(param);
    }
  });

  it('refuses absurd nesting instead of recursing without end', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => collectResponsesPrompt({ input: [deep] }, RULES)).toThrow(/nested more than/);
  });
});
