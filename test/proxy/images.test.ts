// POST /v1/images/generations with OpenAI's image models, through the openai SDK: the hold is n images
// at the dearest price the request allows (all or nothing), the charge is the images returned or the
// tokens gpt-image-1 reports, and bad requests are refused before any hold.
import { describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { openAIImageError, openAIImages, openAIImageUsage } from '../helpers/stub-image-providers.js';
import { apiError, expectUntouched, imageUsage, postImages, useImageEnv } from './image-support.js';
import { accountView, expectNotBilled, funded } from './support.js';

const env = useImageEnv();

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('gpt-image-1: billed from the tokens it reports', () => {
  it('charges text input, image input and output tokens at their rates, and records the basis', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.openai.enqueue({ body: openAIImages(1, { usage: openAIImageUsage(40, 10, 4160) }) });

    const { data, response } = await client.images
      .generate({ model: 'gpt-image-1', prompt: 'A lighthouse at dawn', size: '1024x1024', quality: 'high' })
      .withResponse();

    expect(data.data?.[0]?.b64_json).toEqual(expect.any(String));
    // ceil((40 x 5,000,000 + 10 x 10,000,000 + 4160 x 40,000,000) / 1e6) = 200 + 100 + 166,400
    expect(response.headers.get('x-tokengate-cost')).toBe('166700');
    const row = await imageUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ model: 'gpt-image-1', provider: 'openai', operation: 'image', images: 1, input_tokens: 50, output_tokens: 4160, cost: 166_700, usage_source: 'provider', status: 'ok' });
    expect(row.rates).toEqual({ basis: 'tokens', per: 1_000_000, textInput: 5_000_000, imageInput: 10_000_000, output: 40_000_000, textInputTokens: 40, imageInputTokens: 10 });

    // Forwarded as sent, with the upstream model name and the gateway's key.
    const [sent] = env.openai.requests;
    expect(sent!.body).toEqual({ model: 'gpt-image-1', prompt: 'A lighthouse at dawn', size: '1024x1024', quality: 'high' });
    expect(sent!.headers.authorization).toBe(`Bearer ${env.openai.apiKey}`);
  });

  it('holds n images at the dearest size and quality for "auto", plus the prompt at the text rate', async () => {
    const prompt = 'Three variations of a red fox in snow';
    const { client, key } = await funded(env.gw, 2_000_000);
    const release = deferred();
    env.openai.enqueue({ body: openAIImages(3, { usage: openAIImageUsage(9, 0, 3 * 1056) }), after: release.promise });

    const pending = client.images.generate({ model: 'gpt-image-1', prompt, n: 3 }).withResponse();
    await env.openai.waitForRequests(1);
    // size and quality default to "auto": the dearest gpt-image-1 image is 250,000 (high, 1024x1536).
    const held = 3 * 250_000 + estimatePromptTokens({ messages: [{ role: 'user', content: prompt }] }, 'o200k_base') * 5;
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 2_000_000, held, available: 2_000_000 - held });
    release.resolve();

    const { response } = await pending;
    const cost = Math.ceil((9 * 5_000_000 + 3 * 1056 * 40_000_000) / 1e6);
    expect(response.headers.get('x-tokengate-cost')).toBe(String(cost));
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 2_000_000 - cost, held: 0 });
    expect((await imageUsage(env, response.headers.get('x-request-id')!)).images).toBe(3);
  });

  it('bills per image, at the size and quality OpenAI says it chose, when no usage comes back', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.openai.enqueue({ body: openAIImages(2, { size: '1536x1024', quality: 'medium' }) });

    const { response } = await client.images.generate({ model: 'gpt-image-1', prompt: 'A wide valley', n: 2 }).withResponse();

    expect(response.headers.get('x-tokengate-cost')).toBe(String(2 * 63_000));
    const row = await imageUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ images: 2, cost: 126_000, input_tokens: 0, output_tokens: 0 });
    expect(row.rates).toEqual({ basis: 'image', size: '1536x1024', quality: 'medium', perImage: 63_000 });
  });
});

describe('per-image models: what is returned is what is charged', () => {
  it('n=3 with one image withheld by the provider charges for 2', async () => {
    const { client, key } = await funded(env.gw, 100_000);
    env.openai.enqueue({ body: openAIImages(2, { url: true }) });

    const { data, response } = await client.images.generate({ model: 'dall-e-2', prompt: 'Pebbles', n: 3, size: '512x512', response_format: 'url' }).withResponse();

    expect(data.data).toHaveLength(2);
    expect(response.headers.get('x-tokengate-cost')).toBe(String(2 * 18_000));
    const row = await imageUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ operation: 'image', images: 2, cost: 36_000, status: 'ok' });
    expect(row.rates).toEqual({ basis: 'image', size: '512x512', quality: 'standard', perImage: 18_000 });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000 - 36_000, held: 0 });
  });

  it('holds n x the price: n=3 on a balance for 2.5 images is 402 before the provider is called', async () => {
    const { client, key, accountId } = await funded(env.gw, 50_000); // 2.5 dall-e-2 images at 20,000

    const error = await apiError(client.images.generate({ model: 'dall-e-2', prompt: 'Pebbles', n: 3 }));

    expect(error.status).toBe(402);
    expect(error.code).toBe('insufficient_balance');
    expect(error.message).toContain('needs up to 60000 tokens');
    expect(env.openai.requests).toHaveLength(0);
    await expectUntouched(env, key, accountId, 50_000);

    // Two images fit: the same balance pays for n=2.
    env.openai.enqueue({ body: openAIImages(2, { url: true }) });
    const { response } = await client.images.generate({ model: 'dall-e-2', prompt: 'Pebbles', n: 2 }).withResponse();
    expect(response.headers.get('x-tokengate-cost')).toBe('40000');
  });

  it('dall-e-3 takes style and hd, priced by size and quality', async () => {
    const { client } = await funded(env.gw, 1_000_000);
    env.openai.enqueue({ body: openAIImages(1, { url: true }) });

    const { response } = await client.images.generate({ model: 'dall-e-3', prompt: 'A tall ship', size: '1024x1792', quality: 'hd', style: 'natural' }).withResponse();

    expect(response.headers.get('x-tokengate-cost')).toBe('120000');
    expect(env.openai.requests[0]!.body).toMatchObject({ style: 'natural', quality: 'hd', size: '1024x1792' });
  });
});

describe('refused before any hold', () => {
  it('an unknown size or quality is 400 naming the field; nothing is held or sent', async () => {
    const { client, key, accountId } = await funded(env.gw, 1_000_000);

    const size = await apiError(client.images.generate({ model: 'gpt-image-1', prompt: 'x', size: '999x999' }));
    expect(size.status).toBe(400);
    expect(size.param).toBe('size');
    expect(size.code).toBe('invalid_value');
    expect(size.message).toContain('1024x1024, 1024x1536, 1536x1024, auto');

    const quality = await apiError(client.images.generate({ model: 'dall-e-3', prompt: 'x', quality: 'high' }));
    expect(quality.status).toBe(400);
    expect(quality.param).toBe('quality');

    const n = await apiError(client.images.generate({ model: 'dall-e-3', prompt: 'x', n: 2 }));
    expect(n.status).toBe(400);
    expect(n.param).toBe('n');

    expect(env.openai.requests).toHaveLength(0);
    await expectUntouched(env, key, accountId, 1_000_000);
  });

  it('refuses streams, unknown fields, missing prompts and models that are not image models', async () => {
    const { key, accountId } = await funded(env.gw, 1_000_000);
    const cases: [unknown, string | null, string][] = [
      [{ model: 'gpt-image-1', prompt: 'x', stream: true }, 'stream', 'unsupported_parameter'],
      [{ model: 'gpt-image-1', prompt: 'x', partial_images: 2 }, 'partial_images', 'invalid_request'],
      [{ model: 'gpt-image-1' }, 'prompt', 'invalid_request'],
      [{ model: 'gpt-4o-mini', prompt: 'x' }, 'model', 'model_not_found'],
      [{ model: 'no-such-model', prompt: 'x' }, 'model', 'model_not_found'],
    ];
    for (const [body, param, code] of cases) {
      const response = await postImages(env.gw, key, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await response.json()) as unknown).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', code, param } });
    }
    expect(env.openai.requests).toHaveLength(0);
    await expectUntouched(env, key, accountId, 1_000_000);
  });
});

describe('OpenAI errors', () => {
  it('pass through with their status and are not billed', async () => {
    const { client, key, accountId } = await funded(env.gw, 1_000_000);
    env.openai.enqueue({
      status: 400,
      body: openAIImageError('Your request was rejected as a result of our safety system.', 'image_generation_user_error', 'moderation_blocked'),
    });

    const error = await apiError(client.images.generate({ model: 'gpt-image-1', prompt: 'something unsafe' }));

    expect(error.status).toBe(400);
    expect(error.code).toBe('moderation_blocked');
    await expectNotBilled(env, error.requestID!);
    await expectUntouched(env, key, accountId, 1_000_000);
  });
});

describe('GET /v1/models', () => {
  it('lists the image models of configured providers', async () => {
    const { client } = await funded(env.gw, 0);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-image-1', 'dall-e-3', 'dall-e-2', 'imagen-4.0-generate-001', 'gemini-2.5-flash-image']));
  });
});
