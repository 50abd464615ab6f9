import { afterAll, describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/billing/price-table.js';
import {
  INLINE_COUNT_MAX_CHARS,
  REPLY_PRIMING_TOKENS,
  TOKENS_PER_GENERATED_TOOL_CALL,
  TOKENS_PER_MESSAGE,
  closeTokenizerWorkers,
  countCompletionTokens,
  countTokens,
  estimatePromptTokens,
  measurePrompt,
  tokenizerStats,
  type PromptBody,
  type TokenizerEncoding,
} from '../../src/metering/tokenizer.js';
import {
  cookbookMessages,
  cookbookMessagesApiTokens,
  cookbookToolMessages,
  cookbookTools,
  cookbookToolsApiTokens,
} from './fixtures.js';

const encodings: TokenizerEncoding[] = ['o200k_base', 'cl100k_base'];
const prices = loadPriceTable();
const modelFor = (encoding: TokenizerEncoding) => prices.chat(encoding === 'o200k_base' ? 'gpt-4o' : 'gpt-3.5-turbo')!;

afterAll(async () => {
  await closeTokenizerWorkers();
});

describe('countTokens', () => {
  it.each([
    { text: '', encoding: 'o200k_base', tokens: 0 },
    { text: 'hello world', encoding: 'o200k_base', tokens: 2 },
    { text: 'hello world', encoding: 'cl100k_base', tokens: 2 },
  ] as const)('counts $text with $encoding', ({ text, encoding, tokens }) => {
    expect(countTokens(text, encoding)).toBe(tokens);
  });

  it('counts special-token text as ordinary text instead of throwing', () => {
    expect(countTokens('<|endoftext|>', 'cl100k_base')).toBeGreaterThan(1);
  });
});

describe('estimatePromptTokens', () => {
  it.each(encodings)('matches the prompt_tokens OpenAI reported for the cookbook conversation (%s)', (encoding) => {
    expect(estimatePromptTokens({ messages: cookbookMessages }, encoding)).toBe(cookbookMessagesApiTokens[encoding]);
  });

  it.each(encodings)('over-estimates the cookbook tool request by at most 35%% (%s)', (encoding) => {
    const estimate = estimatePromptTokens({ messages: cookbookToolMessages, tools: cookbookTools }, encoding);
    const reported = cookbookToolsApiTokens[encoding];
    expect(estimate).toBeGreaterThanOrEqual(reported);
    expect(estimate).toBeLessThanOrEqual(Math.ceil(reported * 1.35));
  });

  const overhead = (messages: number) => messages * TOKENS_PER_MESSAGE + REPLY_PRIMING_TOKENS;
  const count = (...texts: string[]) => texts.reduce((sum, text) => sum + countTokens(text, 'o200k_base'), 0);

  it.each([
    {
      name: 'plain text',
      body: { messages: [{ role: 'user', content: 'Tell me a story about a lighthouse.' }] },
      expected: overhead(1) + count('user', 'Tell me a story about a lighthouse.'),
    },
    {
      name: 'a named message',
      body: { messages: [{ role: 'user', name: 'ada', content: 'Hi' }] },
      expected: overhead(1) + 1 + count('user', 'ada', 'Hi'),
    },
    {
      name: 'text parts',
      body: {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'First part.' }, { type: 'text', text: 'Second part.' }] },
        ],
      },
      expected: overhead(1) + count('user', 'First part.', 'Second part.'),
    },
    {
      name: 'a replayed tool call and its result',
      body: {
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'result text' },
        ],
      },
      expected:
        overhead(2) +
        count('assistant', JSON.stringify({ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } })) +
        count('tool', 'call_1', 'result text'),
    },
  ])('counts $name', ({ body, expected }) => {
    expect(estimatePromptTokens(body, 'o200k_base')).toBe(expected);
  });

  it('counts a json_schema response_format at least as its schema text, bounded', () => {
    const schema = {
      name: 'person',
      strict: true,
      schema: {
        type: 'object',
        properties: { name: { type: 'string', description: 'Full legal name' }, age: { type: 'integer' } },
        required: ['name', 'age'],
        additionalProperties: false,
      },
    };
    const messages = [{ role: 'user', content: 'Extract the person.' }];
    const without = estimatePromptTokens({ messages }, 'o200k_base');
    const withFormat = estimatePromptTokens({ messages, response_format: { type: 'json_schema', json_schema: schema } }, 'o200k_base');
    const rawText = countTokens('person name string Full legal name age integer', 'o200k_base');
    expect(withFormat - without).toBeGreaterThanOrEqual(rawText);
    expect(withFormat - without).toBe(countTokens(JSON.stringify(schema), 'o200k_base'));
    expect(estimatePromptTokens({ messages, response_format: { type: 'json_object' } }, 'o200k_base')).toBe(without);
  });

  it('counts legacy functions like tools', () => {
    const messages = [{ role: 'user', content: 'Weather?' }];
    const definition = cookbookTools[0].function;
    const without = estimatePromptTokens({ messages }, 'o200k_base');
    const withFunctions = estimatePromptTokens({ messages, functions: [definition] }, 'o200k_base');
    expect(withFunctions - without).toBeGreaterThan(countTokens(JSON.stringify(definition), 'o200k_base'));
  });

  it.each([
    { name: 'no messages', body: {} },
    { name: 'messages not an array', body: { messages: 'hello' } },
    { name: 'null message and part', body: { messages: [null, { role: 'user', content: [null, { type: 'image_url' }] }] } },
    { name: 'numeric content', body: { messages: [{ role: 'user', content: 42 }] } },
    { name: 'audio and file parts', body: { messages: [{ role: 'user', content: [{ type: 'input_audio' }, { type: 'file' }] }] } },
  ])('does not throw on unvalidated shapes: $name', ({ body }) => {
    expect(estimatePromptTokens(body, 'o200k_base')).toBeGreaterThanOrEqual(REPLY_PRIMING_TOKENS);
  });
});

describe('measurePrompt', () => {
  function largeBody(): PromptBody {
    const paragraph = 'The ledger is append-only; corrections are new rows. Ünïcödé and 数字 too. ';
    const content = paragraph.repeat(Math.ceil((INLINE_COUNT_MAX_CHARS * 2) / paragraph.length));
    return { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }], tools: cookbookTools };
  }

  it('counts a small prompt inline', async () => {
    const before = tokenizerStats();
    const body = { messages: [{ role: 'user', content: 'Hi there' }] };
    const measure = measurePrompt(body, modelFor('o200k_base'));
    expect(measure.cheap).toBe(true);
    expect(await measure.count()).toBe(estimatePromptTokens(body, 'o200k_base'));
    expect(measure.boundTokens).toBeGreaterThanOrEqual(await measure.count());
    expect(tokenizerStats().inlineCounts).toBe(before.inlineCounts + 1);
    expect(tokenizerStats().workerCounts).toBe(before.workerCounts);
  });

  it.each(encodings)('counts a prompt over the inline limit in a worker, to the same number (%s)', async (encoding) => {
    const body = largeBody();
    const before = tokenizerStats();
    const measure = measurePrompt(body, modelFor(encoding));
    expect(measure.cheap).toBe(false);
    const asyncCount = await measure.count();
    const after = tokenizerStats();
    expect(asyncCount).toBe(estimatePromptTokens(body, encoding));
    expect(measure.boundTokens).toBeGreaterThanOrEqual(asyncCount);
    expect(after.workerCounts).toBe(before.workerCounts + 1);
    expect(after.workerFallbacks).toBe(before.workerFallbacks);
    expect(after.inlineCounts).toBe(before.inlineCounts);
    expect(after.liveWorkers).toBeGreaterThanOrEqual(1);
  });

  it('serves concurrent large prompts with a bounded pool', async () => {
    const body = largeBody();
    const before = tokenizerStats();
    const counts = await Promise.all([1, 2, 3, 4].map(() => measurePrompt(body, modelFor('o200k_base')).count()));
    expect(new Set(counts)).toEqual(new Set([estimatePromptTokens(body, 'o200k_base')]));
    expect(tokenizerStats().workerCounts).toBe(before.workerCounts + 4);
    expect(tokenizerStats().liveWorkers).toBeLessThanOrEqual(2);
  });

  it('closes its workers and starts new ones on demand', async () => {
    await closeTokenizerWorkers();
    expect(tokenizerStats().liveWorkers).toBe(0);
    const body = largeBody();
    expect(await measurePrompt(body, modelFor('o200k_base')).count()).toBe(estimatePromptTokens(body, 'o200k_base'));
    expect(tokenizerStats().liveWorkers).toBe(1);
  });
});

describe('countCompletionTokens', () => {
  it.each([
    { name: 'nothing', generated: { content: '', toolCalls: [] }, expected: 0 },
    { name: 'text', generated: { content: 'The answer is 42.', toolCalls: [] }, expected: countTokens('The answer is 42.', 'o200k_base') },
    {
      name: 'text and tool calls',
      generated: {
        content: 'Checking.',
        toolCalls: [
          { name: 'get_current_weather', arguments: '{"location":"Paris"}' },
          { name: 'get_time', arguments: '{}' },
        ],
      },
      expected:
        countTokens('Checking.', 'o200k_base') +
        2 * TOKENS_PER_GENERATED_TOOL_CALL +
        countTokens('get_current_weather', 'o200k_base') +
        countTokens('{"location":"Paris"}', 'o200k_base') +
        countTokens('get_time', 'o200k_base') +
        countTokens('{}', 'o200k_base'),
    },
  ])('estimates $name', ({ generated, expected }) => {
    expect(countCompletionTokens(generated, 'o200k_base')).toBe(expected);
  });
});
