// Fault: the shared Redis is killed (SIGKILL) under two gateways' traffic and comes back after a
// while, without persistence (empty) and with AOF (fsync'd every second, so the last second is lost).
// Requests get a quick 503 while it is away; every request that was answered 200 is billed once.
import { afterEach, describe, expect, it } from 'vitest';
import { startLoad, servedMore } from '../helpers/gateway-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/harness.js';
import { startOwnRedis, type OwnRedis } from '../helpers/redis-servers.js';
import { expectEverythingBilledOnce, startGateways, type Pair } from './fault-support.js';

let redis: OwnRedis | undefined;
let database: TestDatabase | undefined;
let pair: Pair | undefined;

afterEach(async () => {
  await pair?.stop();
  await redis?.stop();
  await database?.drop();
  pair = redis = database = undefined;
});

describe.each([
  { persistence: 'no AOF', appendonly: false },
  { persistence: 'AOF every second', appendonly: true },
])('Redis SIGKILL, $persistence', ({ appendonly }) => {
  it('keeps the gateways up, answers 503 while Redis is away, and bills every served request once', { timeout: 60_000 }, async () => {
    [redis, database] = await Promise.all([startOwnRedis({ appendonly, appendfsync: 'everysec' }), createTestDatabase()]);
    pair = await startGateways({ DATABASE_URL: database.url, REDIS_URL: redis.url, SETTLE_INTERVAL_MS: '500' });
    const account = await pair.account(1_000_000);
    const load = startLoad(pair.gateways.map((g) => g.url), account.key);
    await servedMore(load, 40);
    await redis.kill();
    const refusedBefore = load.answers.filter((a) => a.status === 503).length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(load.answers.filter((a) => a.status === 503).length).toBeGreaterThan(refusedBefore);
    await redis.start();
    await servedMore(load, 40);
    const answers = await load.stop();
    await expectEverythingBilledOnce(pair, account, database.url, answers);
  });
});
