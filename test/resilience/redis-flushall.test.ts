// Fault: FLUSHALL on the Redis two gateways share, mid-traffic. Captures Redis had not yet settled
// into Postgres are replayed from each instance's capture journal; the loss is logged once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad, servedMore } from '../helpers/gateway-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/harness.js';
import { startOwnRedis, type OwnRedis } from '../helpers/redis-servers.js';
import { expectEverythingBilledOnce, startGateways, type Pair } from './fault-support.js';

let redis: OwnRedis;
let database: TestDatabase;
let pair: Pair;

beforeAll(async () => {
  [redis, database] = await Promise.all([startOwnRedis(), createTestDatabase()]);
  // Settling once a second keeps captures queued in Redis when the flush hits.
  pair = await startGateways({ DATABASE_URL: database.url, REDIS_URL: redis.url, SETTLE_INTERVAL_MS: '1000' });
}, 60_000);

afterAll(async () => {
  await pair?.stop();
  await redis?.stop();
  await database?.drop();
});

describe('Redis FLUSHALL mid-traffic', () => {
  it('loses no charge, logs the loss once per instance, and reconciles', { timeout: 60_000 }, async () => {
    const account = await pair.account(1_000_000);
    const load = startLoad(pair.gateways.map((g) => g.url), account.key);
    await servedMore(load, 40);
    const client = redis.client();
    await client.flushall();
    client.disconnect();
    await servedMore(load, 40);
    const answers = await load.stop();
    await expectEverythingBilledOnce(pair, account, database.url, answers);
    for (const gateway of pair.gateways) {
      expect(gateway.logs.filter((line) => line.includes('Redis lost its data'))).toHaveLength(1);
    }
  });
});
