// Two gateway instances of one deployment (same Postgres, same Redis prefix): key limits are shared,
// and a revocation or suspension made through one instance is refused by the other within a second
// (Redis pub/sub), although the other had the key cached a moment before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';

let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  a = await startTestGateway();
  b = await startTestGateway({ database: a.database, redisPrefix: a.redisPrefix });
});

afterAll(async () => {
  await b?.stop({ keepDatabase: true });
  await a?.stop();
});

const chat = (gw: TestGateway, key: string) =>
  gw.request('POST', '/v1/chat/completions', { key, body: { model: 'mock', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } });

/** Polls until `status` answers; returns how long it took after `since`. Fails past the deadline. */
async function untilStatus(probe: () => Promise<{ status: number }>, status: number, since: number, deadlineMs = 5_000): Promise<number> {
  for (;;) {
    const response = await probe();
    const elapsed = performance.now() - since;
    if (response.status === status) return elapsed;
    if (elapsed > deadlineMs) throw new Error(`still ${response.status} after ${Math.round(elapsed)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('two instances', () => {
  it('share one rate limit: requests through either count against the same key', async () => {
    const account = await accountWithBalance(a, 100_000);
    const key = await keyFor(a, account, 'user', { rpm: 4 });
    const remaining: Array<string | null> = [];
    for (const gw of [a, b, a, b]) {
      const response = await chat(gw, key);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      remaining.push(response.headers.get('x-ratelimit-remaining-requests'));
    }
    expect(remaining).toEqual(['3', '2', '1', '0']);
    expect((await chat(a, key)).status).toBe(429);
    expect((await chat(b, key)).status).toBe(429);
  });

  it('share one budget', async () => {
    const account = await accountWithBalance(a, 100_000);
    const key = await keyFor(a, account, 'user', { budget: 60 });
    const statuses: number[] = [];
    for (const gw of [a, b, a, b, a, b]) statuses.push((await chat(gw, key)).status);
    // Each costs about 14 tokens; the key stops after the spend reaches 60, on both instances.
    const firstRefused = statuses.indexOf(402);
    expect(firstRefused).toBeGreaterThan(0);
    expect(statuses.slice(firstRefused)).toEqual(Array(statuses.length - firstRefused).fill(402));
  });

  it('a key revoked through one instance is refused by the other within 1 s', async () => {
    const account = await accountWithBalance(a, 100_000);
    const owner = await keyFor(a, account);
    const created = await a.request('POST', '/account/keys', { key: owner, body: { name: 'short-lived' } });
    const doomed = created.body.key as string;
    // B has it cached (its cache would keep it 10 s without an invalidation).
    expect((await chat(b, doomed)).status).toBe(200);
    expect((await b.request('GET', '/account', { key: doomed })).status).toBe(200);

    const revokedAt = performance.now();
    expect((await a.request('DELETE', `/account/keys/${created.body.id}`, { key: owner })).status).toBe(200);
    const elapsed = await untilStatus(() => b.request('GET', '/account', { key: doomed }), 401, revokedAt);
    expect(elapsed).toBeLessThan(1_000);
    expect((await chat(b, doomed)).status).toBe(401);
    expect((await chat(b, owner)).status).toBe(200);
  });

  it('a suspension through one instance applies on the other within 1 s, and so does reactivation', async () => {
    const account = await accountWithBalance(a, 100_000);
    const key = await keyFor(a, account);
    expect((await chat(b, key)).status).toBe(200);

    const suspendedAt = performance.now();
    expect((await a.request('PATCH', `/admin/accounts/${account.id}`, { key: a.adminKey, body: { status: 'suspended' } })).status).toBe(200);
    expect(await untilStatus(() => chat(b, key), 403, suspendedAt)).toBeLessThan(1_000);

    const reactivatedAt = performance.now();
    expect((await a.request('PATCH', `/admin/accounts/${account.id}`, { key: a.adminKey, body: { status: 'active' } })).status).toBe(200);
    expect(await untilStatus(() => chat(b, key), 200, reactivatedAt)).toBeLessThan(1_000);
  });
});
