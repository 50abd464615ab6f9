import { describe, expect, it } from 'vitest';
import { usageFromOpenAI } from '../../src/metering/usage.js';

describe('usageFromOpenAI', () => {
  it.each([
    {
      name: 'plain counts',
      usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 },
      expected: { inputTokens: 12, cachedInputTokens: 0, outputTokens: 30, reasoningTokens: 0 },
    },
    {
      name: 'cached and reasoning details',
      usage: {
        prompt_tokens: 2006,
        completion_tokens: 300,
        total_tokens: 2306,
        prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      expected: { inputTokens: 2006, cachedInputTokens: 1920, outputTokens: 300, reasoningTokens: 256 },
    },
    {
      name: 'null details',
      usage: { prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: null, completion_tokens_details: null },
      expected: { inputTokens: 5, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 },
    },
    {
      name: 'details without the counted field',
      usage: { prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: { audio_tokens: 0 }, completion_tokens_details: {} },
      expected: { inputTokens: 5, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 },
    },
    {
      name: 'cached above prompt, clamped',
      usage: { prompt_tokens: 100, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 150 } },
      expected: { inputTokens: 100, cachedInputTokens: 100, outputTokens: 10, reasoningTokens: 0 },
    },
    {
      name: 'reasoning above completion, clamped',
      usage: { prompt_tokens: 100, completion_tokens: 10, completion_tokens_details: { reasoning_tokens: 11 } },
      expected: { inputTokens: 100, cachedInputTokens: 0, outputTokens: 10, reasoningTokens: 10 },
    },
    {
      name: 'zeros',
      usage: { prompt_tokens: 0, completion_tokens: 0 },
      expected: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 },
    },
  ])('maps $name', ({ usage, expected }) => {
    expect(usageFromOpenAI(usage)).toEqual(expected);
  });

  it.each([
    { name: 'undefined', usage: undefined },
    { name: 'null (chunks before the usage chunk)', usage: null },
    { name: 'an array', usage: [12, 30] },
    { name: 'a string', usage: '12' },
    { name: 'missing prompt_tokens', usage: { completion_tokens: 3 } },
    { name: 'missing completion_tokens', usage: { prompt_tokens: 3 } },
    { name: 'fractional prompt_tokens', usage: { prompt_tokens: 1.5, completion_tokens: 3 } },
    { name: 'negative completion_tokens', usage: { prompt_tokens: 1, completion_tokens: -3 } },
    { name: 'numeric strings', usage: { prompt_tokens: '1', completion_tokens: '3' } },
    { name: 'beyond safe integers', usage: { prompt_tokens: 2 ** 53, completion_tokens: 3 } },
    { name: 'malformed cached_tokens', usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: -1 } } },
    { name: 'malformed reasoning_tokens', usage: { prompt_tokens: 10, completion_tokens: 3, completion_tokens_details: { reasoning_tokens: '2' } } },
    { name: 'details not an object', usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: 4 } },
  ])('rejects $name', ({ usage }) => {
    expect(usageFromOpenAI(usage)).toBeNull();
  });
});
