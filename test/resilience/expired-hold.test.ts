// Fault: an instance dies mid-request, leaving its hold with the progress it last recorded. A gateway
// process that is still running sweeps it: the delivered part is billed once (status 'interrupted',
// usage_source 'estimated'); a hold that recorded no progress is released without charge.
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisHoldStore } from '../../src/billing/holds/redis-store.js';
import { eventually } from '../helpers/gateway-process.js';
import { createTestDatabase, deleteRedisPrefix, REDIS_URL, type TestDatabase } from '../helpers/harness.js';
import { settlementFor } from '../helpers/settlements.js';
import { expectEverythingBilledOnce, startGateways, type Pair } from './fault-support.js';

let database: TestDatabase;
let pair: Pair;
let sql: postgres.Sql;
let redis: Redis;
const prefix = `t:expired:${Date.now()}:`;

beforeAll(async () => {
  database = await createTestDatabase();
  pair = await startGateways({ DATABASE_URL: database.url, REDIS_URL, REDIS_PREFIX: prefix }, 1);
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
  redis = new Redis(REDIS_URL);
}, 90_000);

afterAll(async () => {
  redis?.disconnect();
  await sql?.end();
  await pair?.stop();
  await database?.drop();
  await deleteRedisPrefix(prefix);
});

describe('hold of a dead instance', () => {
  it('is settled by its recorded progress by another instance, once; one without progress is voided', async () => {
    const account = await pair.account(10_000);
    // The instance that dies: its own store on the same Redis, reserving and recording progress.
    const dying = new RedisHoldStore(redis, {
      prefix,
      loadBalance: async (id) => Number((await sql<[{ balance: string }]>`select balance from accounts where id = ${id}`)[0].balance),
    });
    const streamed = `req_dead_${Date.now()}`;
    const unsent = `${streamed}_unsent`;
    for (const holdId of [streamed, unsent]) {
      expect(await dying.reserve({ accountId: account.accountId, holdId, amountTokens: 500, minimumTokens: 500, ttlSeconds: 1 })).toMatchObject({ ok: true });
    }
    const progress = settlementFor(account.accountId, 37, { requestId: streamed, usageSource: 'estimated', status: 'interrupted', stream: true, outputTokens: 12 });
    expect(await dying.extend(account.accountId, streamed, 1, progress)).toBe(true);
    // ...and it is gone: nobody extends or captures these holds again.

    await eventually('the sweeper settled the dead hold', async () => (await sql`select 1 from usage_events where id = ${streamed}`).length === 1);
    const [usage] = await sql<[{ status: string; usage_source: string; cost: string; output_tokens: number }]>`
      select status, usage_source, cost, output_tokens from usage_events where id = ${streamed}`;
    expect(usage).toEqual({ status: 'interrupted', usage_source: 'estimated', cost: '37', output_tokens: 12 });
    const ledger = await sql<{ reference: string; amount: string }[]>`select reference, amount from ledger_entries where account_id = ${account.accountId} and type = 'usage'`;
    expect(ledger.map((l) => [l.reference, Number(l.amount)])).toEqual([[streamed, -37]]);

    const view = await fetch(`${pair.gateways[0]!.url}/account`, { headers: { authorization: `Bearer ${account.key}` } }).then((r) => r.json());
    expect(view).toMatchObject({ balance: 10_000 - 37, held: 0 });
    await expectEverythingBilledOnce(pair, { ...account, balance: 10_000 }, database.url, [{ status: 200, requestId: streamed, cost: 37 }]);
  });
});
