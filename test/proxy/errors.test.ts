// Errors (SPEC 3.2, 3.8, 4): bad requests never reach the provider; provider errors pass through with
// the provider's status in OpenAI's shape and are not billed; an unreachable provider is a 502.
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';
import type { ErrorBody } from '../../src/http/errors.js';
import { openAIError } from '../helpers/stub-openai.js';
import {
  accountView,
  expectNotBilled,
  expectOpenAIErrorShape,
  funded,
  ledgerRows,
  postChat,
  sdk,
  useProxyEnv,
} from './support.js';
import { freePort } from '../helpers/ports.js';

const env = useProxyEnv();

const messages = [{ role: 'user' as const, content: 'Hello?' }];

async function sdkError(promise: Promise<unknown>): Promise<APIError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(APIError);
  return error as APIError;
}

describe('requests the gateway refuses (400), before the provider', () => {
  it('unknown model: 400 model_not_found, nothing sent upstream, nothing billed', async () => {
    const { client, accountId, key } = await funded(env.gw, 10_000);
    const error = await sdkError(client.chat.completions.create({ model: 'gpt-does-not-exist', messages }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('model_not_found');
    expect(error.param).toBe('model');
    expect(env.stub.requests).toHaveLength(0);
    await expectNotBilled(env, error.requestID!);
    expect((await ledgerRows(env.sql, accountId)).map((r) => r.type)).toEqual(['grant']);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it.each([
    ['no messages', { model: 'gpt-4o-mini' }, 'messages'],
    ['empty messages', { model: 'gpt-4o-mini', messages: [] }, 'messages'],
    ['max_tokens: -1', { model: 'gpt-4o-mini', messages, max_tokens: -1 }, 'max_tokens'],
    ['max_completion_tokens: 1.5', { model: 'gpt-4o-mini', messages, max_completion_tokens: 1.5 }, 'max_completion_tokens'],
    ['no model', { messages }, 'model'],
  ])('%s: 400 in OpenAI shape naming the field', async (_name, body, param) => {
    const { key } = await funded(env.gw, 10_000);
    const response = await postChat(env.gw, key, body);
    expect(response.status).toBe(400);
    const json = (await response.json()) as ErrorBody;
    expectOpenAIErrorShape(json);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.param).toBe(param);
    expect(env.stub.requests).toHaveLength(0);
  });

  it('invalid JSON: 400 in OpenAI shape', async () => {
    const { key } = await funded(env.gw, 10_000);
    const response = await postChat(env.gw, key, '{"model": "gpt-4o-mini", "messages": [');
    expect(response.status).toBe(400);
    const json = (await response.json()) as ErrorBody;
    expectOpenAIErrorShape(json);
    expect(json.error.type).toBe('invalid_request_error');
    expect(env.stub.requests).toHaveLength(0);
  });
});

describe('provider errors', () => {
  it.each([
    [429, 'Rate limit reached for gpt-4o-mini in organization org-stub on requests per min (RPM): Limit 3, Used 3.', 'requests', 'rate_limit_exceeded'],
    [500, 'The server had an error while processing your request. Sorry about that!', 'server_error', null],
  ])('%i with an OpenAI error body passes through with its status and message, unbilled', async (status, message, type, code) => {
    const start = 10_000;
    const { client, key } = await funded(env.gw, start);
    env.stub.enqueue(openAIError(status, message, type, code));

    const error = await sdkError(client.chat.completions.create({ model: 'gpt-4o-mini', messages }));
    expect(error.status).toBe(status);
    expect(error.error).toEqual({ message, type, code, param: null });
    expect(error.message).toContain(message);
    expect(error.requestID).toMatch(/^req_/);
    expect(env.stub.requests).toHaveLength(1); // maxRetries 0 and the gateway does not retry either

    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start, held: 0, available: start });
  });

  it('a 401 about the gateway\'s own OpenAI key never shows that key\'s characters: upstream_auth, unbilled', async () => {
    const { client, key } = await funded(env.gw, 10_000);
    env.stub.enqueue(openAIError(401, 'Incorrect API key provided: sk-proj-********************abcd. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key'));

    const error = await sdkError(client.chat.completions.create({ model: 'gpt-4o-mini', messages }));
    expect(error.status).toBe(401);
    expect(error.error).toMatchObject({ type: 'upstream_error', code: 'upstream_auth' });
    expect(JSON.stringify(error.error)).not.toMatch(/abcd|sk-/);
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('a secret quoted in another provider error is masked', async () => {
    const { client } = await funded(env.gw, 10_000);
    env.stub.enqueue(openAIError(400, 'Project sk-proj-AbCdEfGh1234 cannot use this model.', 'invalid_request_error', null));
    const error = await sdkError(client.chat.completions.create({ model: 'gpt-4o-mini', messages }));
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ message: expect.stringContaining('cannot use this model') });
    expect(JSON.stringify(error.error)).not.toContain('AbCdEfGh1234');
  });

  it('a streaming request that the provider refuses gets the error as JSON, unbilled', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue(openAIError(429, 'Slow down.', 'requests', 'rate_limit_exceeded'));
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true });
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({ error: { message: 'Slow down.', type: 'requests', code: 'rate_limit_exceeded', param: null } });
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ held: 0 });
  });

  it('a non-JSON 502 body is wrapped in OpenAI shape', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'raw', status: 502, body: '<html><body>502 Bad Gateway</body></html>' });
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const json = (await response.json()) as ErrorBody;
    expectOpenAIErrorShape(json);
    expect(json.error.message).toContain('502 Bad Gateway');
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('a 200 whose body is not JSON: 502 in OpenAI shape, unbilled', async () => {
    const { client, key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'raw', status: 200, body: 'this is not json', contentType: 'application/json' });
    const error = await sdkError(client.chat.completions.create({ model: 'gpt-4o-mini', messages }));
    expect(error.status).toBe(502);
    expect(error.error).toMatchObject({ type: 'upstream_error', code: 'upstream_malformed' });
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });
});

describe('an unreachable provider', () => {
  let down: TestGateway;

  beforeAll(async () => {
    const port = await freePort();
    down = await startTestGateway({ env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, OPENAI_API_KEY: 'sk-test-stub' } });
  });

  afterAll(async () => {
    await down?.stop();
  });

  it('answers 502 in OpenAI shape and releases the hold', async () => {
    const account = await accountWithBalance(down, 10_000);
    const key = await keyFor(down, account);
    const error = await sdkError(sdk(down, key).chat.completions.create({ model: 'gpt-4o-mini', messages }));
    expect(error.status).toBe(502);
    expect(error.error).toMatchObject({ type: 'upstream_error', code: 'upstream_connection' });
    const view = await down.request('GET', '/account', { key });
    expect(view.body).toMatchObject({ balance: 10_000, held: 0 });
  });
});

