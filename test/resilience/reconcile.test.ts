// GET /admin/reconcile compares the hold store with Postgres, not only each balance with its ledger:
// a Redis mirror corrupted by hand is named with the amount it is off by.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { accountBase } from '../../src/billing/holds/redis-keys.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { REDIS_URL, useTestGateway } from '../helpers/harness.js';

const t = useTestGateway();

const chat = (key: string) =>
  t.gw.request('POST', '/v1/chat/completions', { key, body: { model: 'mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] } });

describe('reconcile', () => {
  it('names the account whose Redis balance drifted from Postgres, and by how much', async () => {
    const healthy = await accountWithBalance(t.gw, 5_000);
    const corrupted = await accountWithBalance(t.gw, 5_000);
    for (const account of [healthy, corrupted]) expect((await chat(await keyFor(t.gw, account))).status).toBe(200);
    while ((await t.gw.gateway.deps.settler.flushOnce()) > 0);

    const before = await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey });
    expect(before.body).toMatchObject({ ok: true, mismatches: [], mirrors: [], queue: { depth: 0, oldestAgeMs: null }, journal: { uncommittedCaptures: expect.any(Number) } });

    const redis = new Redis(REDIS_URL);
    try {
      await redis.incrby(`${accountBase(t.gw.redisPrefix, corrupted.id)}:bal`, 150);
    } finally {
      redis.disconnect();
    }
    const after = await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey });
    expect(after.status).toBe(200);
    expect(after.body.ok).toBe(false);
    expect(after.body.mismatches).toEqual([]); // Postgres itself is consistent
    const [{ balance }] = await t.sql<[{ balance: string }]>`select balance from accounts where id = ${corrupted.id}`;
    expect(after.body.mirrors).toEqual([
      { accountId: corrupted.id, redisBalance: Number(balance) + 150, postgresBalance: Number(balance), queuedTokens: 0, expectedRedisBalance: Number(balance), difference: 150 },
    ]);
  });

  it('reports open holds and the settlement queue with its age', async () => {
    const account = await accountWithBalance(t.gw, 5_000);
    const holds = t.gw.gateway.deps.holds;
    await holds.reserve({ accountId: account.id, holdId: 'open-hold', amountTokens: 100, minimumTokens: 100, ttlSeconds: 60 });
    const body = (await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey })).body;
    expect(body.holds).toMatchObject({ openHolds: 1, heldTokens: 100, expiredHolds: 0 });
    await holds.void(account.id, 'open-hold');
  });
});
