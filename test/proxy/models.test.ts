// GET /v1/models and GET /v1/models/{id} in OpenAI's shape (issue 10): every kind of priced model whose
// provider is enabled and that the key may use, `owned_by` naming the provider; anything else is 404
// model_not_found. Gemini is enabled here (its upstream is never called): its models are listed, its
// embedding model among them, and a Gemini chat model on /v1/embeddings is model_not_found.
import { describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway } from '../helpers/harness.js';
import { errorOf, funded, sdk, useProxyEnv } from './support.js';

const env = useProxyEnv({ env: { GEMINI_API_KEY: 'gemini-test-key', GEMINI_BASE_URL: 'http://127.0.0.1:9' } });

describe('GET /v1/models', () => {
  it('lists chat, embedding and image models of enabled providers, owned_by the provider', async () => {
    const { client } = await funded(env.gw, 0);
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models).toEqual(
      expect.arrayContaining([
        { id: 'mock', object: 'model', created: 0, owned_by: 'mock' },
        { id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai' },
        { id: 'text-embedding-3-small', object: 'model', created: 0, owned_by: 'openai' },
        { id: 'gpt-image-1', object: 'model', created: 0, owned_by: 'openai' },
      ]),
    );
    expect(models).toContainEqual({ id: 'gemini-2.5-flash', object: 'model', created: 0, owned_by: 'gemini' });
    expect(models).toContainEqual({ id: 'gemini-embedding-001', object: 'model', created: 0, owned_by: 'gemini' });
  });

  it('a key restricted to some models sees only those', async () => {
    const account = await accountWithBalance(env.gw, 0);
    const client = sdk(env.gw, await keyFor(env.gw, account, 'user', { models: ['gpt-4o-mini', 'text-embedding-3-small'] }));
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids.sort()).toEqual(['gpt-4o-mini', 'text-embedding-3-small']);
  });
});

describe('GET /v1/models/{id}', () => {
  it('returns one model through the SDK', async () => {
    const { client } = await funded(env.gw, 0);
    expect(await client.models.retrieve('text-embedding-3-large')).toEqual({ id: 'text-embedding-3-large', object: 'model', created: 0, owned_by: 'openai' });
    expect(await client.models.retrieve('gpt-4o')).toEqual({ id: 'gpt-4o', object: 'model', created: 0, owned_by: 'openai' });
  });

  it('unknown, not enabled (the mock with MOCK_PROVIDER=off) or not allowed to the key: 404 model_not_found', async () => {
    const { client, key } = await funded(env.gw, 0);
    await expect(client.models.retrieve('gpt-99')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    const noMock = await startTestGateway({ env: { MOCK_PROVIDER: 'off' } });
    try {
      const account = await accountWithBalance(noMock, 0);
      await expect(sdk(noMock, await keyFor(noMock, account)).models.retrieve('mock')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    } finally {
      await noMock.stop();
    }
    const account = await accountWithBalance(env.gw, 0);
    const restricted = sdk(env.gw, await keyFor(env.gw, account, 'user', { models: ['gpt-4o-mini'] }));
    await expect(restricted.models.retrieve('gpt-4o')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });

    const response = await fetch(`${env.gw.url}/v1/models/ft:gpt-4o-mini:acme::abc123`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toEqual({ message: expect.stringContaining("'ft:gpt-4o-mini:acme::abc123'"), type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
  });

  it('a Gemini chat model on /v1/embeddings is a clear 400 naming its kind, nothing held', async () => {
    const { key } = await funded(env.gw, 100_000);
    const embeddings = await fetch(`${env.gw.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gemini-2.5-flash', input: 'Hi' }) });
    expect(embeddings.status).toBe(400);
    expect(await errorOf(embeddings)).toMatchObject({ code: 'model_not_found', param: 'model', message: expect.stringContaining('chat model') });
    expect(env.stub.requests).toEqual([]);
  });

  it('needs a key like every /v1 route', async () => {
    const response = await fetch(`${env.gw.url}/v1/models/gpt-4o`);
    expect(response.status).toBe(401);
  });
});
