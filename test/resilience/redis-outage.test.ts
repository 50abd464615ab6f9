// With Redis unreachable the gateway cannot check balances: it refuses metered requests with a 503 in
// OpenAI's shape (clients retry), reports not ready, and keeps running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';

let healthy: TestGateway;
let cutOff: TestGateway;
let key: string;

beforeAll(async () => {
  healthy = await startTestGateway();
  key = await keyFor(healthy, await accountWithBalance(healthy, 10_000));
  // A second gateway on the same database whose Redis is a port nothing listens on.
  cutOff = await startTestGateway({ database: healthy.database, env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
});

afterAll(async () => {
  await cutOff?.stop({ keepDatabase: true });
  await healthy?.stop();
});

describe('Redis unreachable', () => {
  it('answers 503 service_unavailable with retry-after, and nothing is billed', async () => {
    const response = await cutOff.request('POST', '/v1/chat/completions', { key, body: { model: 'mock', messages: [{ role: 'user', content: 'hi' }] } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.body).toEqual({ error: { message: expect.stringContaining('unavailable'), type: 'api_error', code: 'service_unavailable', param: null } });
    const view = await healthy.request('GET', '/account', { key });
    expect(view.body).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('reports not ready, naming the hold store', async () => {
    const ready = await cutOff.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not_ready', checks: { postgres: 'ok', holds: 'down' } });
  });
});

