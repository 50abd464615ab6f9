// Fault: Postgres goes away under two gateways' traffic (every connection cut and new ones refused,
// through a TCP proxy in front of it), once for a few seconds and in stop/start cycles. Requests keep
// being served from Redis; settlements wait in the queue; afterwards every served request is billed
// once and no gateway process died (postgres.js used to crash on a transaction cut mid-way).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startLoad, servedMore } from '../helpers/gateway-process.js';
import { createTestDatabase, deleteRedisPrefix, REDIS_URL, type TestDatabase } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { expectEverythingBilledOnce, startGateways, type Pair } from './fault-support.js';

let proxy: TcpProxy;
let database: TestDatabase;
let pair: Pair;
let prefix: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const url = new URL(database.url);
  proxy = await startTcpProxy(url.hostname, Number(url.port));
  url.port = String(proxy.port);
  prefix = `t:pgfault:${database.name}:`;
  pair = await startGateways({ DATABASE_URL: url.toString(), REDIS_URL, REDIS_PREFIX: prefix, SETTLE_INTERVAL_MS: '200' });
}, 90_000);

afterAll(async () => {
  await pair?.stop();
  await proxy?.close();
  await database?.drop();
  if (prefix) await deleteRedisPrefix(prefix);
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Postgres faults', () => {
  // Well under 30 s on a quiet machine; the margin is for a busy one.
  it('Postgres down for a few seconds: nothing served is lost, nobody crashes', { timeout: 60_000 }, async () => {
    const account = await pair.account(1_000_000);
    const load = startLoad(pair.gateways.map((g) => g.url), account.key);
    await servedMore(load, 40);
    await proxy.cut();
    // Requests in flight and those whose key and settings are cached are served meanwhile; their
    // settlements wait in Redis. (How fast serving goes on without Postgres is the key cache's business.)
    await pause(3_000);
    await proxy.restore();
    await servedMore(load, 20);
    await expectEverythingBilledOnce(pair, account, database.url, await load.stop());
  });

  it('Postgres stop/start cycles: nothing is lost, nobody crashes', { timeout: 60_000 }, async () => {
    const account = await pair.account(1_000_000);
    const load = startLoad(pair.gateways.map((g) => g.url), account.key);
    await servedMore(load, 20);
    for (let cycle = 0; cycle < 3; cycle++) {
      await proxy.cut();
      await pause(1_500);
      await proxy.restore();
      await servedMore(load, 10);
    }
    await expectEverythingBilledOnce(pair, account, database.url, await load.stop());
  });
});
