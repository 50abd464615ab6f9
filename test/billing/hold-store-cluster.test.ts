// The HoldStore contract against a local 3-master Redis Cluster that this file starts on free ports and
// stops afterwards: every script must touch one slot, or Cluster refuses it (CROSSSLOT).
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisHoldStore } from '../../src/billing/holds/redis-store.js';
import { startOwnCluster, type OwnCluster } from '../helpers/redis-servers.js';
import { FakePostgres, hold, holdStoreContract, settlementFor } from './hold-store-contract.js';

let cluster: OwnCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startOwnCluster();
  client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 2 } });
}, 60_000);

afterAll(async () => {
  await client?.quit();
  await cluster?.stop();
});

describe('RedisHoldStore on Redis Cluster', () => {
  holdStoreContract((options) => new RedisHoldStore(client, { ...options, prefix: `t:${randomUUID()}:` }));

  it('settles many accounts spread over every master, each once', async () => {
    const pg = new FakePostgres();
    const prefix = `t:${randomUUID()}:`;
    const store = new RedisHoldStore(client, { prefix, loadBalance: pg.loadBalance });
    const accounts = Array.from({ length: 40 }, (_, n) => `acct-${n}`);
    for (const account of accounts) pg.balances.set(account, 100);
    await Promise.all(accounts.map(async (account) => {
      const request = hold(account, 50);
      await store.reserve(request);
      await store.capture(request.holdId, settlementFor(account, 10, `req-${account}`));
    }));
    const claimed = await store.claimSettlements(100);
    expect(claimed.map((e) => e.settlement.requestId).sort()).toEqual(accounts.map((a) => `req-${a}`).sort());
    await store.ackSettlements(claimed);
    expect(await store.claimSettlements(100)).toEqual([]);
    expect(await store.stats()).toMatchObject({ queuedSettlements: 0 });
    // The shards' keys are spread over all three masters, so the run above crossed every node.
    const perMaster = await Promise.all(client.nodes('master').map((node) => node.keys(`${prefix}*`)));
    expect(perMaster.map((keys) => keys.length > 0)).toEqual([true, true, true]);
  });
});
