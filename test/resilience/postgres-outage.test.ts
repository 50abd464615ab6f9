// SPEC 2.5: while Postgres is unreachable the gateway keeps serving from Redis balances, and once it
// is back every served request is in the ledger exactly once.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { createTestDatabase, startTestGateway, type TestDatabase, type TestGateway } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let proxy: TcpProxy;
let database: TestDatabase;
let gw: TestGateway;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy('127.0.0.1', 5432);
  const viaProxy = new URL(database.url);
  viaProxy.port = String(proxy.port);
  // The gateway reaches Postgres only through the proxy; the test reads it directly.
  gw = await startTestGateway({ database: { ...database, url: viaProxy.toString() } });
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await gw?.stop({ keepDatabase: true });
  await sql?.end();
  await proxy?.close();
  await database?.drop();
});

async function settleAll(): Promise<void> {
  // Retries until the settler has written everything; it fails while connections re-establish.
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await gw.gateway.deps.settler.flushOnce()) === 0) return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error('settlements did not drain');
}

const chat = (key: string) =>
  gw.request('POST', '/v1/chat/completions', { key, body: { model: 'mock', max_tokens: 20, messages: [{ role: 'user', content: 'count to ten' }] } });

describe('Postgres outage', () => {
  it('serves from Redis while Postgres is down and settles every request exactly once after', async () => {
    const account = await accountWithBalance(gw, 100_000);
    const key = await keyFor(gw, account);
    const warmup = await chat(key); // caches the key and settings, loads the Redis mirror
    expect(warmup.status).toBe(200);
    await settleAll();

    await proxy.cut();
    const during = await Promise.all(Array.from({ length: 20 }, () => chat(key)));
    expect(during.map((r) => r.status)).toEqual(Array(20).fill(200));
    await expect(gw.gateway.deps.settler.flushOnce()).rejects.toThrow();
    const ready = await gw.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    const [{ rowsDuringOutage }] = await sql<[{ rowsDuringOutage: number }]>`select count(*)::int as "rowsDuringOutage" from usage_events`;
    expect(rowsDuringOutage).toBe(1);

    await proxy.restore();
    await settleAll();

    const served = [warmup, ...during];
    const servedIds = served.map((r) => r.headers.get('x-request-id')!);
    const expectedCost = served.reduce((sum, r) => sum + Number(r.headers.get('x-tokengate-cost')), 0);
    const usage = await sql<{ id: string; cost: string }[]>`select id, cost from usage_events where account_id = ${account.id}`;
    expect(usage.map((u) => u.id).sort()).toEqual([...servedIds].sort());
    const ledger = await sql<{ reference: string; amount: string }[]>`
      select reference, amount from ledger_entries where account_id = ${account.id} and type = 'usage'`;
    expect(ledger.map((l) => l.reference).sort()).toEqual([...servedIds].sort());
    expect(ledger.reduce((sum, l) => sum - Number(l.amount), 0)).toBe(expectedCost);
    const [{ balance }] = await sql<[{ balance: string }]>`select balance from accounts where id = ${account.id}`;
    expect(Number(balance)).toBe(100_000 - expectedCost);
    const reconcile = await gw.request('GET', '/admin/reconcile', { key: gw.adminKey });
    expect(reconcile.body.ok).toBe(true);
  });
});
