// Issue 7, items 8 and 9: what providers show clients (no upstream address or errno in 502s, none of
// the operator's x-ratelimit-* headers) and the mock provider's limits (a switch to turn it off, and
// knobs bounded by the upstream timeout and the model's output cap).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { ErrorBody } from '../../src/http/errors.js';
import { completion, usage } from '../helpers/stub-openai.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { accountView, expectNotBilled, funded, postChat, useProxyEnv } from '../proxy/support.js';

const TIMEOUT_MS = 1_000;
const env = useProxyEnv({ env: { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) } });
const messages = [{ role: 'user', content: 'Hello?' }];

const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-limit-tokens': '30000000',
  'x-ratelimit-remaining-tokens': '29999990',
  'x-ratelimit-reset-requests': '6ms',
};

describe("the provider's x-ratelimit-* headers (the operator's account) never reach clients", () => {
  it('non-stream', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(5, 5) }), headers: RATE_LIMIT_HEADERS });
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages });
    expect(response.status).toBe(200);
    expect([...response.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).toEqual([]);
    expect(response.headers.get('openai-processing-ms')).toBe('12'); // harmless provider headers still pass
  });

  it('provider errors', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'json', status: 429, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, headers: RATE_LIMIT_HEADERS });
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages });
    expect(response.status).toBe(429);
    expect([...response.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).toEqual([]);
  });
});

describe('the mock provider', () => {
  it.each([false, true])('asked for more latency than UPSTREAM_TIMEOUT_MS, answers 504 once the timeout passes (stream: %s)', async (stream) => {
    const { key } = await funded(env.gw, 100_000);
    const started = Date.now();
    const response = await postChat(env.gw, key, { model: 'mock', messages, stream }, { headers: { 'x-mock-latency-ms': String(3_600_000) } });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    const body = (await response.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: 'upstream_timeout', message: `The mock provider did not answer within ${TIMEOUT_MS} ms.` });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 10_000);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });

  it('latency within the timeout still works', async () => {
    const { key } = await funded(env.gw, 100_000);
    const response = await postChat(env.gw, key, { model: 'mock', messages }, { headers: { 'x-mock-latency-ms': String(TIMEOUT_MS / 10) } });
    expect(response.status).toBe(200);
  });

  it("x-mock-output-tokens cannot exceed the model's output cap, whatever max_tokens says", async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const response = await postChat(env.gw, key, { model: 'mock', messages, max_tokens: 10_000_000 }, { headers: { 'x-mock-output-tokens': '10000000' } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { usage: { completion_tokens: number }; choices: { finish_reason: string }[] };
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(4096); // mock's maxOutputTokens
    expect(body.usage.completion_tokens).toBeGreaterThan(4000);
    expect(body.choices[0]!.finish_reason).toBe('length');
  });

  it('x-mock-chunks is bounded: a stream never has more content chunks than it has words', async () => {
    const { key } = await funded(env.gw, 100_000);
    const response = await postChat(env.gw, key, { model: 'mock', messages, stream: true }, { headers: { 'x-mock-chunks': '1000000000', 'x-mock-output-tokens': '20' } });
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(events.length).toBeLessThanOrEqual(20 + 3); // role, content pieces, finish, [DONE]
    expect(events.at(-1)).toBe('data: [DONE]');
  });
});

describe('MOCK_PROVIDER', () => {
  it('accepts on and off only, defaulting to on', () => {
    expect(loadConfig({}).MOCK_PROVIDER).toBe('on');
    expect(loadConfig({ MOCK_PROVIDER: 'off' }).MOCK_PROVIDER).toBe('off');
    expect(() => loadConfig({ MOCK_PROVIDER: 'no' })).toThrow(/^Invalid configuration: MOCK_PROVIDER must be /);
  });
});

describe('a gateway with the mock off and its providers unreachable', () => {
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    const port = await freePort();
    gw = await startTestGateway({
      env: {
        MOCK_PROVIDER: 'off',
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        OPENAI_API_KEY: 'sk-test-stub',
        GEMINI_BASE_URL: `http://127.0.0.1:${port}`,
        GEMINI_API_KEY: 'gemini-test-key',
      },
    });
    key = await keyFor(gw, await accountWithBalance(gw, 1_000_000));
  });
  afterAll(() => gw?.stop());

  it('mock answers 400 model_not_available and is not listed', async () => {
    const response = await postChat(gw, key, { model: 'mock', messages });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).error).toMatchObject({ code: 'model_not_available', param: 'model' });
    const models = await gw.request('GET', '/v1/models', { key });
    const ids = (models.body as { data: { id: string }[] }).data.map((m) => m.id);
    expect(ids).not.toContain('mock');
    expect(ids).toContain('gpt-4o-mini');
  });

  it.each([
    ['gpt-4o-mini', 'OpenAI'],
    ['gemini-2.5-flash', 'Gemini'],
  ])('%s unreachable: 502 "Could not reach %s." with no address or errno', async (model, provider) => {
    for (const stream of [false, true]) {
      const response = await postChat(gw, key, { model, messages, stream });
      expect(response.status).toBe(502);
      const { error } = (await response.json()) as ErrorBody;
      expect(error).toMatchObject({ type: 'upstream_error', code: 'upstream_connection', message: `Could not reach ${provider}.` });
      expect(error.message).not.toMatch(/127\.0\.0\.1|ECONN|:\d{2,5}/);
    }
  });
});
