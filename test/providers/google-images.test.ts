// Google image models behind POST /v1/images/generations, through the openai SDK against a stub that
// speaks the Gemini API: Imagen's `:predict` billed per image returned, Gemini image output's
// `:generateContent` billed from its usageMetadata, and Google's refusals and errors as OpenAI errors
// with nothing billed unless Google reported usage.
import { describe, expect, it } from 'vitest';
import {
  geminiBlockedPrompt,
  geminiImageResponse,
  geminiImageUsage,
  googleError,
  imagenPredictions,
  PNG_BYTES,
  retryInfo,
} from '../helpers/stub-image-providers.js';
import { apiError, expectUntouched, imageUsage, postImages, useImageEnv } from '../proxy/image-support.js';
import { accountView, expectNotBilled, funded } from '../proxy/support.js';

const env = useImageEnv();

describe('Imagen (predict): billed per image returned', () => {
  it('n=3 with one image filtered by Google charges for 2, and says so', async () => {
    const { client, key } = await funded(env.gw, 1_000_000);
    env.google.enqueue({ body: imagenPredictions([{}, { filtered: 'Your current safety filter threshold filtered out the generated image.' }, {}]) });

    const { data, response } = await client.images
      .generate({ model: 'imagen-4.0-generate-001', prompt: 'A harbour at night', n: 3, size: '1408x768' })
      .withResponse();

    expect(data.data).toEqual([{ b64_json: PNG_BYTES }, { b64_json: PNG_BYTES }]);
    expect(data).toMatchObject({ output_format: 'png', size: '1408x768' });
    expect(response.headers.get('x-tokengate-images-filtered')).toBe('1');
    expect(response.headers.get('x-tokengate-cost')).toBe('80000');
    const row = await imageUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ model: 'imagen-4.0-generate-001', provider: 'gemini', operation: 'image', images: 2, cost: 80_000, usage_source: 'provider', status: 'ok' });
    expect(row.rates).toEqual({ basis: 'image', size: '1408x768', quality: 'standard', perImage: 40_000 });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 920_000, held: 0 });

    const [sent] = env.google.requests;
    expect(sent!.path).toBe('/v1beta/models/imagen-4.0-generate-001:predict');
    expect(sent!.headers['x-goog-api-key']).toBe(env.google.apiKey);
    expect(sent!.body).toEqual({ instances: [{ prompt: 'A harbour at night' }], parameters: { sampleCount: 3, aspectRatio: '16:9', includeRaiReason: true } });
  });

  it('holds n x the price: n=3 on a balance for 2.5 images is 402 before Google is called', async () => {
    const { client, key, accountId } = await funded(env.gw, 100_000);

    const error = await apiError(client.images.generate({ model: 'imagen-4.0-generate-001', prompt: 'Boats', n: 3 }));

    expect(error.status).toBe(402);
    expect(error.message).toContain('needs up to 120000 tokens');
    expect(env.google.requests).toHaveLength(0);
    await expectUntouched(env, key, accountId, 100_000);
  });

  it('an unknown size is refused before any hold', async () => {
    const { client, key, accountId } = await funded(env.gw, 1_000_000);

    const error = await apiError(client.images.generate({ model: 'imagen-4.0-generate-001', prompt: 'Boats', size: '1024x1536' }));

    expect(error.status).toBe(400);
    expect(error.param).toBe('size');
    expect(error.message).toContain('1024x1024, 896x1280, 1280x896, 768x1408, 1408x768');
    expect(env.google.requests).toHaveLength(0);
    await expectUntouched(env, key, accountId, 1_000_000);
  });

  it('translates url, jpeg and compression; names the fields it ignores', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.google.enqueue({ body: imagenPredictions([{ mimeType: 'image/jpeg' }]) });

    const { data, response } = await client.images
      .generate({ model: 'imagen-4.0-fast-generate-001', prompt: 'Fog', response_format: 'url', output_format: 'jpeg', output_compression: 80, user: 'u-1', moderation: 'low' })
      .withResponse();

    expect(data.data).toEqual([{ url: `data:image/jpeg;base64,${PNG_BYTES}` }]);
    expect(data.output_format).toBe('jpeg');
    expect(response.headers.get('x-tokengate-ignored-params')).toBe('moderation, user');
    expect(response.headers.get('x-tokengate-cost')).toBe('20000');
    expect(env.google.requests[0]!.body.parameters).toEqual({
      sampleCount: 1,
      aspectRatio: '1:1',
      includeRaiReason: true,
      outputOptions: { mimeType: 'image/jpeg', compressionQuality: 80 },
    });
  });

  it('refuses what it cannot translate faithfully, without calling Google or billing', async () => {
    const { key, accountId } = await funded(env.gw, 1_000_000);
    const cases: [Record<string, unknown>, string][] = [
      [{ style: 'vivid' }, 'style'],
      [{ output_format: 'webp' }, 'output_format'],
      [{ background: 'transparent' }, 'background'],
    ];
    for (const [extra, param] of cases) {
      const response = await postImages(env.gw, key, { model: 'imagen-4.0-generate-001', prompt: 'Fog', ...extra });
      expect(response.status, param).toBe(400);
      expect(((await response.json()) as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter', param });
    }
    expect(env.google.requests).toHaveLength(0);
    await expectUntouched(env, key, accountId, 1_000_000);
  });
});

describe('Gemini image output (generateContent): billed from usageMetadata', () => {
  it('charges the prompt and image tokens Google reports, and records the basis', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.google.enqueue({ body: geminiImageResponse({ usage: geminiImageUsage(8, 1290) }) });

    const { data, response } = await client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'A paper crane', size: '1344x768' }).withResponse();

    expect(data.data).toEqual([{ b64_json: PNG_BYTES }]);
    expect(data.usage).toEqual({
      input_tokens: 8,
      input_tokens_details: { text_tokens: 8, image_tokens: 0 },
      output_tokens: 1290,
      output_tokens_details: { text_tokens: 0, image_tokens: 1290 },
      total_tokens: 1298,
    });
    // ceil((8 x 300,000 + 1290 x 30,000,000) / 1e6) = ceil(2.4 + 38,700)
    expect(response.headers.get('x-tokengate-cost')).toBe('38703');
    const row = await imageUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ provider: 'gemini', operation: 'image', images: 1, input_tokens: 8, output_tokens: 1290, cost: 38_703 });
    expect(row.rates).toEqual({ basis: 'tokens', per: 1_000_000, textInput: 300_000, imageInput: 300_000, output: 30_000_000, textInputTokens: 8, imageInputTokens: 0 });

    const [sent] = env.google.requests;
    expect(sent!.path).toBe('/v1beta/models/gemini-2.5-flash-image:generateContent');
    expect(sent!.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'A paper crane' }] }],
      generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } },
    });
  });

  it('without usageMetadata bills the image at its list price', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.google.enqueue({ body: geminiImageResponse({ usage: null }) });

    const { response } = await client.images.generate({ model: 'gemini-2.5-flash-image', prompt: 'A paper crane' }).withResponse();

    expect(response.headers.get('x-tokengate-cost')).toBe('39000');
    expect((await imageUsage(env, response.headers.get('x-request-id')!)).rates).toMatchObject({ basis: 'image', perImage: 39_000 });
  });
});

describe("Google's refusals and errors, in OpenAI's shape", () => {
  const imagen = { model: 'imagen-4.0-generate-001', prompt: 'Something' } as const;
  const flash = { model: 'gemini-2.5-flash-image', prompt: 'Something' } as const;

  it('maps each to the right status and code, with nothing billed', async () => {
    const { client, key, accountId } = await funded(env.gw, 1_000_000);
    const safety =
      "Image generation failed with the following error: The prompt could not be submitted. This prompt contains sensitive words that violate Google's Responsible AI practices. Try rephrasing the prompt.";
    const cases: { name: string; request: typeof imagen | typeof flash; status: number; body: unknown; expected: Record<string, unknown>; headers?: Record<string, string> }[] = [
      { name: 'Imagen safety block', request: imagen, status: 400, body: googleError(400, safety, 'INVALID_ARGUMENT'), expected: { status: 400, code: 'content_policy_violation', type: 'invalid_request_error', param: 'prompt' } },
      { name: 'every image filtered', request: imagen, status: 200, body: imagenPredictions([{ filtered: 'filtered by safety' }]), expected: { status: 400, code: 'content_policy_violation' } },
      { name: 'Gemini blocked prompt', request: flash, status: 200, body: geminiBlockedPrompt('SAFETY', null), expected: { status: 400, code: 'content_policy_violation' } },
      { name: 'Gemini image withheld', request: flash, status: 200, body: geminiImageResponse({ image: false, finishReason: 'IMAGE_SAFETY', usage: null }), expected: { status: 400, code: 'content_policy_violation' } },
      {
        name: 'quota (429)',
        request: imagen,
        status: 429,
        body: googleError(429, 'Resource has been exhausted (e.g. check quota). Quota exceeded for project 123456.', 'RESOURCE_EXHAUSTED', [retryInfo('7.2s')]),
        expected: { status: 429, code: 'rate_limit_exceeded', type: 'rate_limit_error' },
        headers: { 'retry-after': '8' },
      },
      { name: 'invalid argument', request: flash, status: 400, body: googleError(400, 'Unable to process input image.', 'INVALID_ARGUMENT'), expected: { status: 400, code: 'invalid_argument', type: 'invalid_request_error' } },
      { name: 'unknown model', request: imagen, status: 404, body: googleError(404, 'models/imagen-4.0-generate-001 is not found for API version v1beta.', 'NOT_FOUND'), expected: { status: 404, code: 'model_not_found', param: 'model' } },
      { name: 'bad credentials', request: flash, status: 403, body: googleError(403, 'Permission denied on project 123456.', 'PERMISSION_DENIED'), expected: { status: 403, code: 'upstream_auth' } },
    ];
    for (const item of cases) {
      env.google.enqueue({ status: item.status, body: item.body });
      const error = await apiError(client.images.generate(item.request));
      expect({ status: error.status, code: error.code, type: error.type, param: error.param }, item.name).toMatchObject(item.expected);
      expect(error.message, item.name).not.toContain('123456'); // the operator's project stays private
      for (const [name, value] of Object.entries(item.headers ?? {})) expect(error.headers?.get(name), item.name).toBe(value);
      await expectNotBilled(env, error.requestID!);
    }
    expect(env.google.requests).toHaveLength(cases.length);
    await expectUntouched(env, key, accountId, 1_000_000);
  });

  it('a blocked prompt for which Google reports usage bills that usage, and no image', async () => {
    const { client, key } = await funded(env.gw, 1_000_000);
    env.google.enqueue({ body: geminiBlockedPrompt('PROHIBITED_CONTENT', geminiImageUsage(12, 0)) });

    const error = await apiError(client.images.generate(flash));

    expect(error.status).toBe(400);
    expect(error.code).toBe('content_policy_violation');
    const row = await imageUsage(env, error.requestID!);
    // ceil(12 x 300,000 / 1e6) = ceil(3.6)
    expect(row).toMatchObject({ images: 0, input_tokens: 12, output_tokens: 0, cost: 4, status: 'error', usage_source: 'provider' });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 1_000_000 - 4, held: 0 });
  });
});
