// Issue 8: while Postgres is unreachable or hangs, keys and settings are answered from their last known
// values (this instance's, or the snapshot every instance shares in Redis), with a short timeout on
// the reads, so requests keep flowing; a key revoked before the outage stays refused.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/accounts/api-keys.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { createTestDatabase, startTestGateway, type TestDatabase, type TestGateway } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let proxy: TcpProxy;
let database: TestDatabase;
let a: TestGateway;
let b: TestGateway;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy('127.0.0.1', 5432);
  const viaProxy = new URL(database.url);
  viaProxy.port = String(proxy.port);
  // Both instances reach Postgres only through the proxy; the test reads it directly.
  a = await startTestGateway({ database: { ...database, url: viaProxy.toString() } });
  b = await startTestGateway({ database: { ...database, url: viaProxy.toString() }, redisPrefix: a.redisPrefix });
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await proxy?.restore();
  await b?.stop({ keepDatabase: true });
  await a?.stop({ keepDatabase: true });
  await sql?.end();
  await proxy?.close();
  await database?.drop();
});

const chat = (gw: TestGateway, key: string) =>
  gw.request('POST', '/v1/chat/completions', { key, body: { model: 'mock', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } });

async function timed(gw: TestGateway, key: string, count: number): Promise<{ statuses: number[]; ms: number }> {
  const started = performance.now();
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await chat(gw, key)).status);
  return { statuses, ms: performance.now() - started };
}

async function settleAll(gw: TestGateway): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await gw.gateway.deps.settler.flushOnce()) === 0) return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error('settlements did not drain');
}

describe('authentication while Postgres is unreachable', () => {
  it('known keys keep working at no less than a quarter of the rate, on both instances; revoked stays revoked; unknown is 503', async () => {
    const account = await accountWithBalance(a, 1_000_000);
    const known = await keyFor(a, account);
    const revoked = await a.request('POST', `/admin/accounts/${account.id}/keys`, { key: a.adminKey, body: { name: 'revoked before the outage' } });
    expect((await chat(a, known)).status).toBe(200); // read from Postgres once: shared in Redis now
    expect((await chat(b, revoked.body.key)).status).toBe(200); // B caches it as live...
    expect((await a.request('DELETE', `/admin/accounts/${account.id}/keys/${revoked.body.id}`, { key: a.adminKey })).status).toBe(200); // ...then A revokes it
    const before = await timed(a, known, 20);
    expect(before.statuses).toEqual(Array(20).fill(200));

    await proxy.cut();
    // As if every cache had expired: lookups must go to Postgres, fail, and fall back.
    a.gateway.deps.authenticator.forget(() => true);
    const during = await timed(a, known, 20);
    expect(during.statuses).toEqual(Array(20).fill(200));
    const rateBefore = 20 / before.ms;
    const rateDuring = 20 / during.ms;
    expect(rateDuring, `before ${Math.round(before.ms)} ms, during ${Math.round(during.ms)} ms`).toBeGreaterThanOrEqual(rateBefore / 4);

    // B never looked this key up: it answers from the snapshot A shared in Redis.
    expect((await chat(b, known)).status).toBe(200);
    // The revocation wins over B's own stale copy and over the outage.
    const refused = await chat(b, revoked.body.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/revoked/);
    // A key nobody has seen cannot be checked: 503 (retry), not 401 (it may be valid).
    const unknown = await chat(a, generateApiKey());
    expect(unknown.status).toBe(503);
    expect(unknown.headers.get('retry-after')).toBe('1');
    expect(unknown.body.error.code).toBe('service_unavailable');

    await proxy.restore();
    await settleAll(a);
    await settleAll(b);
    const [{ n }] = await sql<[{ n: number }]>`select count(*)::int as n from usage_events where account_id = ${account.id}`;
    expect(n).toBe(1 + 1 + 20 + 20 + 1);
  });

  it('a Postgres that hangs costs a request at most the read timeout, not the request', async () => {
    const account = await accountWithBalance(a, 1_000_000);
    const key = await keyFor(a, account);
    expect((await chat(a, key)).status).toBe(200);
    proxy.stall();
    try {
      a.gateway.deps.authenticator.forget(() => true);
      const started = performance.now();
      const statuses = [(await chat(a, key)).status, (await chat(a, key)).status, (await chat(a, key)).status];
      expect(statuses).toEqual([200, 200, 200]);
      // Without a timeout the first lookup would wait on the hung connection until the test times out.
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await proxy.restore();
    }
    await settleAll(a);
  });
});
