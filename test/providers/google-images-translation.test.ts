// The Google image translation, both ways, as pure functions (the wire tests are google-images.test.ts).
import { describe, expect, it } from 'vitest';
import { mapGoogleImageError } from '../../src/providers/google-images/errors.js';
import { geminiImage, openAIUsage } from '../../src/providers/google-images/gemini-image.js';
import { imagen, IMAGEN } from '../../src/providers/google-images/imagen.js';
import { googleImageOptions, type GoogleImageOptions } from '../../src/providers/google-images/options.js';

function options(body: Record<string, unknown>): GoogleImageOptions {
  const result = googleImageOptions({ prompt: 'p', ...body }, IMAGEN);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.options;
}

describe('googleImageOptions', () => {
  it('defaults: one 1:1 image as b64_json in the model own format', () => {
    expect(options({})).toEqual({ prompt: 'p', n: 1, aspectRatio: '1:1', size: '1024x1024', mimeType: null, compression: null, responseFormat: 'b64_json', ignored: [] });
  });

  it.each([
    { body: { size: '896x1280' }, expected: { aspectRatio: '3:4' } },
    { body: { output_format: 'png' }, expected: { mimeType: 'image/png' } },
    { body: { output_format: 'jpeg', output_compression: 55 }, expected: { mimeType: 'image/jpeg', compression: 55 } },
    { body: { output_compression: 55 }, expected: { compression: null, ignored: ['output_compression'] } },
    { body: { background: 'opaque', moderation: 'auto', quality: 'standard' }, expected: { ignored: [] } },
    { body: { moderation: 'low', user: 'u' }, expected: { ignored: ['moderation', 'user'] } },
    { body: { response_format: 'url', n: 4 }, expected: { responseFormat: 'url', n: 4 } },
  ])('translates $body', ({ body, expected }) => {
    expect(options(body)).toMatchObject(expected);
  });

  it.each([
    { body: { n: 5 }, param: 'n' },
    { body: { size: '1024x1536' }, param: 'size' },
    { body: { output_format: 'webp' }, param: 'output_format' },
    { body: { background: 'transparent' }, param: 'background' },
    { body: { style: 'natural' }, param: 'style' },
  ])('refuses $body', ({ body, param }) => {
    const result = googleImageOptions({ prompt: 'p', ...body }, IMAGEN);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatchObject({ status: 400, body: { error: { code: 'unsupported_parameter', param } } });
  });
});

describe('Imagen answers', () => {
  it('keeps images, counts filtered ones, skips the prompt safety entry, carries the enhanced prompt', () => {
    const answer = imagen.answer(
      {
        predictions: [
          { bytesBase64Encoded: 'AA', mimeType: 'image/png', prompt: 'an enhanced prompt' },
          { raiFilteredReason: 'filtered' },
          { contentType: 'Positive Prompt', safetyAttributes: { categories: [], scores: [] } },
        ],
      },
      options({ n: 2 }),
    );
    expect(answer).toMatchObject({ kind: 'images', filtered: 1, body: { data: [{ b64_json: 'AA', revised_prompt: 'an enhanced prompt' }], output_format: 'png', size: '1024x1024' } });
  });

  it('an empty answer (filters that give no reason) is a content policy refusal', () => {
    expect(imagen.answer({}, options({}))).toMatchObject({ kind: 'error', error: { status: 400, body: { error: { code: 'content_policy_violation' } } } });
  });

  it('a shortfall without reasons still counts as filtered', () => {
    expect(imagen.answer({ predictions: [{ bytesBase64Encoded: 'AA' }] }, options({ n: 3 }))).toMatchObject({ kind: 'images', filtered: 2 });
  });
});

describe('Gemini image answers', () => {
  const flash = googleImageOptions({ prompt: 'p' }, geminiImage.abilities);
  const flashOptions = flash.ok ? flash.options : (undefined as never);

  it('skips thought images and text parts', () => {
    const answer = geminiImage.answer(
      { candidates: [{ content: { parts: [{ text: 'Here you go' }, { inlineData: { mimeType: 'image/png', data: 'DRAFT' }, thought: true }, { inlineData: { mimeType: 'image/png', data: 'FINAL' } }] }, finishReason: 'STOP' }] },
      flashOptions,
    );
    expect(answer).toMatchObject({ kind: 'images', filtered: 0, body: { data: [{ b64_json: 'FINAL' }] } });
  });

  it('no image for another reason is 502 and carries the usage Google billed', () => {
    const answer = geminiImage.answer(
      { candidates: [{ content: { parts: [{ text: 'I cannot draw that.' }] }, finishReason: 'NO_IMAGE' }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 6, totalTokenCount: 11 } },
      flashOptions,
    );
    expect(answer).toMatchObject({ kind: 'error', error: { status: 502, body: { error: { code: 'upstream_no_image' }, usage: { input_tokens: 5, output_tokens: 6 } } } });
  });

  it('usageMetadata as OpenAI image usage: modalities split, thoughts billed as output', () => {
    expect(
      openAIUsage({
        promptTokenCount: 300,
        promptTokensDetails: [
          { modality: 'TEXT', tokenCount: 42 },
          { modality: 'IMAGE', tokenCount: 258 },
        ],
        candidatesTokenCount: 1290,
        candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: 1290 }],
        thoughtsTokenCount: 10,
        totalTokenCount: 1600,
      }),
    ).toEqual({
      input_tokens: 300,
      input_tokens_details: { text_tokens: 42, image_tokens: 258 },
      output_tokens: 1300,
      output_tokens_details: { text_tokens: 10, image_tokens: 1290 },
      total_tokens: 1600,
    });
    expect(openAIUsage({ totalTokenCount: 3 })).toBeUndefined();
    expect(openAIUsage(undefined)).toBeUndefined();
  });
});

describe('Google errors', () => {
  it.each([
    { status: 429, error: { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '0.4s' }] } }, expected: { status: 429, headers: { 'retry-after': '1' } } },
    { status: 429, error: { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } }, expected: { status: 429, headers: {} } },
    { status: 503, error: { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }, expected: { status: 503, body: { error: { type: 'upstream_error', code: 'unavailable' } } } },
    { status: 400, error: { error: { code: 400, message: 'Request contains an invalid argument.', status: 'INVALID_ARGUMENT' } }, expected: { status: 400, body: { error: { code: 'invalid_argument' } } } },
    { status: 401, error: { error: { code: 401, message: 'API keys are not supported by this API.', status: 'UNAUTHENTICATED' } }, expected: { status: 401, body: { error: { code: 'upstream_auth' } } } },
    {
      status: 400,
      error: { error: { code: 400, message: "The prompt could not be submitted. This prompt contains sensitive words that violate Google's Responsible AI practices.", status: 'INVALID_ARGUMENT' } },
      expected: { status: 400, body: { error: { code: 'content_policy_violation', param: 'prompt' } } },
    },
    {
      status: 400,
      error: { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } },
      expected: { status: 400, body: { error: { code: 'upstream_auth', type: 'upstream_error' } } },
    },
  ])('$status $error.error.status', ({ status, error, expected }) => {
    expect(mapGoogleImageError(status, JSON.stringify(error), 'imagen-4.0-generate-001')).toMatchObject(expected);
  });

  it('a body that is not Google JSON keeps its text', () => {
    const mapped = mapGoogleImageError(502, '<html>Bad Gateway</html>', 'm');
    expect(mapped.body.error.message).toContain('<html>Bad Gateway</html>');
    expect(mapped.body.error.code).toBe('http_502');
  });
});
