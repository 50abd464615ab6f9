import { describe, expect, it } from 'vitest';
import { imageTokensFromOpenAI, readImagesAnswer } from '../../src/metering/image-usage.js';

describe('readImagesAnswer', () => {
  it.each([
    { name: 'b64 images', json: { created: 1, data: [{ b64_json: 'AA' }, { b64_json: 'BB' }] }, expected: { images: 2, tokens: null, size: null, quality: null } },
    { name: 'url images', json: { created: 1, data: [{ url: 'https://x/1.png', revised_prompt: 'r' }] }, expected: { images: 1, tokens: null, size: null, quality: null } },
    { name: 'entries without an image do not count', json: { data: [{ b64_json: '' }, { revised_prompt: 'r' }, null, 'x', { url: 'u' }] }, expected: { images: 1, tokens: null, size: null, quality: null } },
    {
      name: 'gpt-image-1 with usage, size and quality',
      json: { data: [{ b64_json: 'AA' }], size: '1024x1536', quality: 'high', usage: { input_tokens: 50, input_tokens_details: { text_tokens: 40, image_tokens: 10 }, output_tokens: 6240, total_tokens: 6290 } },
      expected: { images: 1, tokens: { textInputTokens: 40, imageInputTokens: 10, outputTokens: 6240 }, size: '1024x1536', quality: 'high' },
    },
    { name: 'an error body', json: { error: { message: 'no' } }, expected: { images: 0, tokens: null, size: null, quality: null } },
    { name: 'not an object', json: [1, 2], expected: { images: 0, tokens: null, size: null, quality: null } },
  ])('$name', ({ json, expected }) => {
    expect(readImagesAnswer(json)).toEqual(expected);
  });
});

describe('imageTokensFromOpenAI', () => {
  it.each([
    { name: 'without details every input token is text', usage: { input_tokens: 7, output_tokens: 100 }, expected: { textInputTokens: 7, imageInputTokens: 0, outputTokens: 100 } },
    { name: 'null details', usage: { input_tokens: 7, output_tokens: 100, input_tokens_details: null }, expected: { textInputTokens: 7, imageInputTokens: 0, outputTokens: 100 } },
    { name: 'image part clamped to the input total', usage: { input_tokens: 7, output_tokens: 1, input_tokens_details: { image_tokens: 9 } }, expected: { textInputTokens: 0, imageInputTokens: 7, outputTokens: 1 } },
    { name: 'absent', usage: undefined, expected: null },
    { name: 'a count that is not an integer', usage: { input_tokens: 7.5, output_tokens: 1 }, expected: null },
    { name: 'negative', usage: { input_tokens: 7, output_tokens: -1 }, expected: null },
    { name: 'details that are not an object', usage: { input_tokens: 7, output_tokens: 1, input_tokens_details: 3 }, expected: null },
    { name: 'an image count that is not a count', usage: { input_tokens: 7, output_tokens: 1, input_tokens_details: { image_tokens: 'x' } }, expected: null },
  ])('$name', ({ usage, expected }) => {
    expect(imageTokensFromOpenAI(usage)).toEqual(expected);
  });
});
