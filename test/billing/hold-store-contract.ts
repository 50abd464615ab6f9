// The HoldStore contract: every implementation (Redis, Redis Cluster, in-process) passes these.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BalanceLoader, HoldStore, ReserveRequest, Settlement } from '../../src/billing/holds/types.js';

/** Stands in for Postgres: the balances the store's loader reads, and how often it read them. */
export class FakePostgres {
  readonly balances = new Map<string, number>();
  loads = 0;
  /** While set, a load reads the balance at once but returns only when the gate opens. */
  gate: Promise<void> | undefined;
  readonly loadBalance: BalanceLoader = async (accountId) => {
    this.loads += 1;
    const balance = this.balances.get(accountId) ?? 0;
    await (this.gate ?? Promise.resolve());
    return balance;
  };
}


export interface StoreOptions {
  loadBalance: BalanceLoader;
  now: () => number;
}

export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

export function settlementFor(accountId: string, costTokens: number, requestId: string = randomUUID(), extra: Partial<Settlement> = {}): Settlement {
  return {
    requestId,
    accountId,
    keyId: null,
    model: 'mock-small',
    provider: 'mock',
    operation: null,
    inputTokens: 10,
    cachedInputTokens: 0,
    outputTokens: 20,
    reasoningTokens: 0,
    images: 0,
    costTokens,
    rates: { input: 1, output: 2 },
    usageSource: 'provider',
    status: 'ok',
    latencyMs: 5,
    stream: false,
    createdAt: new Date(0).toISOString(),
    ...extra,
  };
}

export function hold(accountId: string, amountTokens: number, extra: Partial<ReserveRequest> = {}): ReserveRequest {
  return { accountId, holdId: randomUUID(), amountTokens, minimumTokens: amountTokens, ttlSeconds: 60, ...extra };
}


export function holdStoreContract(create: (options: StoreOptions) => HoldStore): void {
  let pg: FakePostgres;
  let clock: { ms: number };
  let store: HoldStore;
  let account: string;

  beforeEach(() => {
    pg = new FakePostgres();
    clock = { ms: 1_700_000_000_000 };
    store = create({ loadBalance: pg.loadBalance, now: () => clock.ms });
    account = `acct-${randomUUID()}`;
  });

  /** What a settler does: write the claimed settlements to Postgres, then ack them. */
  async function settleAll(): Promise<void> {
    const claimed = await store.claimSettlements(100);
    for (const { settlement } of claimed) {
      pg.balances.set(settlement.accountId, (pg.balances.get(settlement.accountId) ?? 0) - settlement.costTokens);
    }
    await store.ackSettlements(claimed);
  }

  describe('reserve', () => {
    it('loads the mirror from Postgres on a miss and holds', async () => {
      pg.balances.set(account, 1000);
      expect(await store.reserve(hold(account, 300))).toEqual({ ok: true, heldTokens: 300, availableTokens: 700 });
      expect(await store.view(account)).toEqual({ balanceTokens: 1000, heldTokens: 300 });
      expect(pg.loads).toBe(1);
    });

    it('refuses a hold the balance cannot cover and reports what is available', async () => {
      pg.balances.set(account, 100);
      expect(await store.reserve(hold(account, 500))).toEqual({ ok: false, availableTokens: 100 });
      expect(await store.view(account)).toEqual({ balanceTokens: 100, heldTokens: 0 });
    });

    it('clamps to the available balance when that still covers the minimum', async () => {
      pg.balances.set(account, 300);
      const result = await store.reserve(hold(account, 1000, { minimumTokens: 100 }));
      expect(result).toEqual({ ok: true, heldTokens: 300, availableTokens: 0 });
      expect(await store.reserve(hold(account, 1000, { minimumTokens: 1 }))).toEqual({ ok: false, availableTokens: 0 });
    });

    it('holds once when the same holdId is reserved twice', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 400);
      await store.reserve(request);
      expect(await store.reserve(request)).toEqual({ ok: true, heldTokens: 400, availableTokens: 600 });
      expect((await store.view(account)).heldTokens).toBe(400);
    });

    it('rejects amounts that are not safe non-negative integers', async () => {
      await expect(store.reserve(hold(account, 1.5))).rejects.toThrow(RangeError);
      await expect(store.reserve(hold(account, -1))).rejects.toThrow(RangeError);
    });

    it('holds exactly what the balance covers under 200 concurrent reserves', async () => {
      pg.balances.set(account, 1000);
      const results = await Promise.all(Array.from({ length: 200 }, () => store.reserve(hold(account, 10))));
      const granted = results.filter((result) => result.ok);
      expect(granted).toHaveLength(100);
      for (const result of results) expect(result.availableTokens).toBeGreaterThanOrEqual(0);
      expect(await store.view(account)).toEqual({ balanceTokens: 1000, heldTokens: 1000 });
      expect(pg.loads).toBe(1);
    });

    it('gives up with a clear error when the balance keeps changing during every load', async () => {
      const restless = create({
        loadBalance: async (accountId) => {
          await restless.invalidate(accountId); // a grant lands while we read Postgres, every time
          return 1000;
        },
        now: () => clock.ms,
      });
      await expect(restless.reserve(hold(account, 10))).rejects.toThrow(/could not load the balance mirror/);
    });
  });

  describe('capture', () => {
    it('charges more than the hold, releases it, and queues one settlement', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 100);
      await store.reserve(request);
      expect(await store.capture(request.holdId, settlementFor(account, 150, 'req-1'))).toEqual({ balanceTokens: 850 });
      expect(await store.view(account)).toEqual({ balanceTokens: 850, heldTokens: 0 });
      const queued = await store.claimSettlements(10);
      expect(queued.map((entry) => [entry.settlement.requestId, entry.settlement.costTokens])).toEqual([['req-1', 150]]);
      expect(queued[0]?.settlement).toEqual(settlementFor(account, 150, 'req-1'));
    });

    it('charges less than the hold and releases the rest', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 100);
      await store.reserve(request);
      await store.capture(request.holdId, settlementFor(account, 40));
      expect(await store.view(account)).toEqual({ balanceTokens: 960, heldTokens: 0 });
      expect(await store.reserve(hold(account, 960))).toMatchObject({ ok: true, heldTokens: 960 });
    });

    it('charges once when the same hold is captured twice', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 100);
      await store.reserve(request);
      await store.capture(request.holdId, settlementFor(account, 70, 'req-a'));
      expect(await store.capture(request.holdId, settlementFor(account, 70, 'req-a'))).toEqual({ balanceTokens: 930 });
      expect(await store.view(account)).toEqual({ balanceTokens: 930, heldTokens: 0 });
      expect(await store.claimSettlements(10)).toHaveLength(1);
    });

    it('charges for an expired hold: the provider served the request', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 100, { ttlSeconds: 1 });
      await store.reserve(request);
      clock.ms += 2_000;
      expect(await store.capture(request.holdId, settlementFor(account, 50))).toEqual({ balanceTokens: 950 });
      expect(await store.view(account)).toEqual({ balanceTokens: 950, heldTokens: 0 });
    });

    it('charges through pending when the mirror is missing', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 100);
      await store.reserve(request);
      await store.invalidate(account);
      expect(await store.capture(request.holdId, settlementFor(account, 80))).toEqual({ balanceTokens: 920 });
      expect(await store.view(account)).toEqual({ balanceTokens: 920, heldTokens: 0 });
    });
  });

  describe('void and expiry', () => {
    it('void releases the hold; voiding an unknown hold changes nothing', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 400);
      await store.reserve(request);
      await store.void(account, request.holdId);
      await store.void(account, 'no-such-hold');
      await store.void(account, request.holdId);
      expect(await store.view(account)).toEqual({ balanceTokens: 1000, heldTokens: 0 });
      expect(await store.reserve(hold(account, 1000))).toMatchObject({ ok: true });
    });

    it('expired holds release their money', async () => {
      pg.balances.set(account, 1000);
      await store.reserve(hold(account, 600, { ttlSeconds: 10 }));
      await store.reserve(hold(account, 300, { ttlSeconds: 30 }));
      clock.ms += 9_999;
      expect((await store.view(account)).heldTokens).toBe(900);
      clock.ms += 1;
      expect((await store.view(account)).heldTokens).toBe(300);
      expect(await store.reserve(hold(account, 700))).toEqual({ ok: true, heldTokens: 700, availableTokens: 0 });
    });

    it('extend keeps a running hold alive past its first expiry; an ended hold cannot be extended', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 600, { ttlSeconds: 10 });
      await store.reserve(request);
      clock.ms += 9_000;
      expect(await store.extend(account, request.holdId, 10)).toBe(true);
      clock.ms += 9_000; // 18 s after the reserve: past the first expiry, inside the extended one
      expect((await store.view(account)).heldTokens).toBe(600);
      expect(await store.reserve(hold(account, 500))).toMatchObject({ ok: false, availableTokens: 400 });
      clock.ms += 1_000;
      expect((await store.view(account)).heldTokens).toBe(0);
      expect(await store.extend(account, request.holdId, 10)).toBe(false); // expired: not revived
      expect((await store.view(account)).heldTokens).toBe(0);
      expect(await store.extend(account, 'no-such-hold', 10)).toBe(false);
    });
  });

  describe('settlement queue', () => {
    it('returns claimed settlements again until they are acked', async () => {
      pg.balances.set(account, 1000);
      await store.capture('h1', settlementFor(account, 10, 'req-1'));
      await store.capture('h2', settlementFor(account, 20, 'req-2'));
      const first = await store.claimSettlements(10);
      expect(first.map((entry) => entry.settlement.requestId)).toEqual(['req-1', 'req-2']);
      const again = await store.claimSettlements(10);
      expect(again.map((entry) => entry.id)).toEqual(first.map((entry) => entry.id));
      await store.ackSettlements(again.slice(0, 1));
      expect((await store.claimSettlements(10)).map((entry) => entry.settlement.requestId)).toEqual(['req-2']);
    });

    it('claims at most max, oldest first', async () => {
      for (const n of [1, 2, 3]) await store.capture(`h${n}`, settlementFor(account, n, `req-${n}`));
      expect((await store.claimSettlements(2)).map((entry) => entry.settlement.requestId)).toEqual(['req-1', 'req-2']);
      expect((await store.claimSettlements(3)).map((entry) => entry.settlement.requestId)).toEqual(['req-1', 'req-2', 'req-3']);
    });

    it('ack settles pending once, even when acked twice', async () => {
      pg.balances.set(account, 1000);
      await store.capture('h1', settlementFor(account, 100));
      await store.invalidate(account);
      // Postgres has not seen the capture yet, so the reloaded mirror subtracts it as pending.
      expect((await store.view(account)).balanceTokens).toBe(900);

      const claimed = await store.claimSettlements(10);
      pg.balances.set(account, 900); // the settler wrote it to Postgres
      await store.ackSettlements(claimed);
      await store.ackSettlements(claimed);
      await store.invalidate(account);
      expect((await store.view(account)).balanceTokens).toBe(900);
      expect(await store.claimSettlements(10)).toEqual([]);
    });

    it('a mirror loaded between the Postgres write and the ack is rebuilt at the ack', async () => {
      pg.balances.set(account, 1000);
      await store.capture('h1', settlementFor(account, 100));
      await store.invalidate(account);
      const claimed = await store.claimSettlements(10);
      pg.balances.set(account, 900); // written to Postgres, not acked yet
      expect((await store.view(account)).balanceTokens).toBe(800); // cost counted twice, for now
      await store.ackSettlements(claimed);
      expect((await store.view(account)).balanceTokens).toBe(900);
    });

    it('acks a batch spanning several accounts at once, settling each pending once', async () => {
      const other = `acct-${randomUUID()}`;
      pg.balances.set(account, 1000);
      pg.balances.set(other, 500);
      await store.capture('h1', settlementFor(account, 100, 'req-1'));
      await store.capture('h2', settlementFor(other, 30, 'req-2'));
      await store.capture('h3', settlementFor(account, 50, 'req-3'));
      await store.capture('h4', settlementFor(other, 20, 'req-4'));
      const claimed = await store.claimSettlements(10);
      // Accounts may sit in different shards: oldest first, but ties across shards in one ms are free.
      expect(claimed.map((entry) => entry.settlement.requestId).sort()).toEqual(['req-1', 'req-2', 'req-3', 'req-4']);
      pg.balances.set(account, 850); // the settler wrote the batch to Postgres
      pg.balances.set(other, 450);
      await store.ackSettlements([...claimed, claimed[0]!]); // an entry listed twice counts once
      await store.ackSettlements(claimed);
      await store.invalidate(account);
      await store.invalidate(other);
      // Reloaded mirrors subtract what is still pending: nothing, if every ack counted exactly once.
      expect(await store.view(account)).toEqual({ balanceTokens: 850, heldTokens: 0 });
      expect(await store.view(other)).toEqual({ balanceTokens: 450, heldTokens: 0 });
      expect(await store.claimSettlements(10)).toEqual([]);
    });

    it('an ack keeps a mirror loaded before the batch and drops one loaded amid it', async () => {
      pg.balances.set(account, 1000);
      await store.view(account); // mirror loaded before any capture
      await store.capture('h1', settlementFor(account, 10));
      await store.capture('h2', settlementFor(account, 20));
      pg.balances.set(account, 970);
      await store.ackSettlements(await store.claimSettlements(10));
      expect(await store.view(account)).toEqual({ balanceTokens: 970, heldTokens: 0 });
      expect(pg.loads).toBe(1); // kept: it never saw these captures in Postgres

      await store.capture('h3', settlementFor(account, 100));
      await store.invalidate(account);
      expect((await store.view(account)).balanceTokens).toBe(870); // loaded after h3, before h4
      await store.capture('h4', settlementFor(account, 5));
      const claimed = await store.claimSettlements(10);
      pg.balances.set(account, 865); // both written to Postgres
      await store.ackSettlements(claimed);
      expect(await store.view(account)).toEqual({ balanceTokens: 865, heldTokens: 0 });
      expect(pg.loads).toBe(3); // dropped: it was loaded after h3, so it may have read h3 in Postgres
    });
  });

  describe('invalidate', () => {
    it('reloads a new Postgres balance, still subtracting unsettled captures', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 100);
      await store.reserve(request);
      await store.capture(request.holdId, settlementFor(account, 100));
      pg.balances.set(account, 1500); // a grant of 500 committed
      await store.invalidate(account);
      expect(await store.view(account)).toEqual({ balanceTokens: 1400, heldTokens: 0 });
      await settleAll();
      await store.invalidate(account);
      expect(await store.view(account)).toEqual({ balanceTokens: 1400, heldTokens: 0 });
    });

    it('refuses a load that read Postgres before a grant committed', async () => {
      pg.balances.set(account, 1000);
      let open = (): void => {};
      pg.gate = new Promise((resolve) => (open = resolve));
      const viewing = store.view(account); // its loader reads 1000, then waits
      await until(() => pg.loads === 1);
      pg.gate = undefined;
      pg.balances.set(account, 1500);
      await store.invalidate(account);
      open();
      expect(await viewing).toEqual({ balanceTokens: 1500, heldTokens: 0 });
      expect(pg.loads).toBe(2);
    });
  });

  describe('progress and the sweeper', () => {
    const progressFor = (accountId: string, cost: number, requestId: string) =>
      settlementFor(accountId, cost, requestId, { usageSource: 'estimated', status: 'interrupted' });

    it('settles an expired hold by its last progress, voids one without progress, each once', async () => {
      pg.balances.set(account, 1000);
      const streaming = hold(account, 300, { ttlSeconds: 10 });
      const silent = hold(account, 200, { ttlSeconds: 10 });
      await store.reserve(streaming);
      await store.reserve(silent);
      expect(await store.extend(account, streaming.holdId, 10, progressFor(account, 20, streaming.holdId))).toBe(true);
      expect(await store.extend(account, streaming.holdId, 10, progressFor(account, 45, streaming.holdId))).toBe(true);
      expect(await store.extend(account, streaming.holdId, 10)).toBe(true); // keeps the last progress
      clock.ms += 10_000;
      expect(await store.stats()).toMatchObject({ expiredHolds: 2 });
      expect(await store.sweepExpired()).toEqual({ settled: 1, voided: 1 });
      expect(await store.sweepExpired()).toEqual({ settled: 0, voided: 0 });
      const queued = await store.claimSettlements(10);
      expect(queued.map((q) => [q.settlement.requestId, q.settlement.costTokens, q.settlement.status])).toEqual([[streaming.holdId, 45, 'interrupted']]);
      expect(await store.view(account)).toEqual({ balanceTokens: 955, heldTokens: 0 });
      // The instance was not dead after all: its late capture is refused, the progress stands.
      await store.capture(streaming.holdId, settlementFor(account, 80, streaming.holdId));
      expect(await store.view(account)).toEqual({ balanceTokens: 955, heldTokens: 0 });
      expect(await store.claimSettlements(10)).toHaveLength(1);
    });

    it('any step on the account settles its expired holds by progress, not only the sweeper', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 300, { ttlSeconds: 5 });
      await store.reserve(request);
      await store.extend(account, request.holdId, 5, progressFor(account, 30, request.holdId));
      clock.ms += 6_000;
      expect(await store.reserve(hold(account, 970))).toMatchObject({ ok: true, heldTokens: 970, availableTokens: 0 });
      expect(await store.sweepExpired()).toEqual({ settled: 0, voided: 0 });
      expect((await store.claimSettlements(10)).map((q) => q.settlement.costTokens)).toEqual([30]);
    });

    it('a capture replaces the progress: the request finished', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 300, { ttlSeconds: 5 });
      await store.reserve(request);
      await store.extend(account, request.holdId, 5, progressFor(account, 30, request.holdId));
      await store.capture(request.holdId, settlementFor(account, 120, request.holdId));
      clock.ms += 6_000;
      expect(await store.sweepExpired()).toEqual({ settled: 0, voided: 0 });
      expect((await store.claimSettlements(10)).map((q) => [q.settlement.costTokens, q.settlement.status])).toEqual([[120, 'ok']]);
      expect(await store.view(account)).toEqual({ balanceTokens: 880, heldTokens: 0 });
    });

    it('concurrent sweepers settle each expired hold once', async () => {
      pg.balances.set(account, 10_000);
      const requests = Array.from({ length: 30 }, () => hold(account, 100, { ttlSeconds: 1 }));
      for (const request of requests) {
        await store.reserve(request);
        await store.extend(account, request.holdId, 1, progressFor(account, 7, request.holdId));
      }
      clock.ms += 2_000;
      const results = await Promise.all([store.sweepExpired(), store.sweepExpired(), store.sweepExpired(), store.view(account)]);
      const settled = results.slice(0, 3).reduce((sum, r) => sum + (r as { settled: number }).settled, 0);
      expect(settled).toBeLessThanOrEqual(30); // view() may have ended some first
      const queued = await store.claimSettlements(100);
      expect(queued).toHaveLength(30);
      expect(new Set(queued.map((q) => q.settlement.requestId)).size).toBe(30);
      expect(await store.view(account)).toEqual({ balanceTokens: 10_000 - 30 * 7, heldTokens: 0 });
    });

    it('refuses progress of another account or a bad cost', async () => {
      pg.balances.set(account, 1000);
      const request = hold(account, 300);
      await store.reserve(request);
      await expect(store.extend(account, request.holdId, 5, progressFor('someone-else', 5, request.holdId))).rejects.toThrow(RangeError);
      await expect(store.extend(account, request.holdId, 5, progressFor(account, -1, request.holdId))).rejects.toThrow(RangeError);
    });
  });

  describe('inspect and stats', () => {
    it('reports mirror, holds, pending and the queue without loading anything', async () => {
      pg.balances.set(account, 1000);
      const before = await store.inspect([account]);
      expect(before.get(account)).toEqual({ balanceTokens: null, heldTokens: 0, pendingTokens: 0, openHolds: 0, expiredHolds: 0 });
      await store.reserve(hold(account, 100, { ttlSeconds: 5 }));
      await store.reserve(hold(account, 50, { ttlSeconds: 60 }));
      await store.capture('h1', settlementFor(account, 30));
      clock.ms += 6_000;
      expect((await store.inspect([account])).get(account)).toEqual({ balanceTokens: 970, heldTokens: 150, pendingTokens: 30, openHolds: 2, expiredHolds: 1 });
      expect(pg.loads).toBe(1);
      const stats = await store.stats();
      expect(stats).toMatchObject({ queuedSettlements: 1, expiredHolds: 1 });
      expect(stats.oldestQueuedAtMs).toEqual(expect.any(Number));
    });
  });
}
