// One contract suite for both HoldStore implementations, against real Redis (no mocks).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryHoldStore } from '../../src/billing/holds/memory-store.js';
import { RedisHoldStore } from '../../src/billing/holds/redis-store.js';
import type { BalanceLoader, HoldStore, ReserveRequest, Settlement } from '../../src/billing/holds/types.js';

const REDIS_URL = `redis://127.0.0.1:${process.env.TEST_REDIS_PORT ?? 6379}`;
const runPrefix = `t:${randomUUID()}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${runPrefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
});

/** Stands in for Postgres: the balances the store's loader reads, and how often it read them. */
class FakePostgres {
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

interface StoreOptions {
  loadBalance: BalanceLoader;
  now: () => number;
}

const backends: Array<{ name: string; create: (options: StoreOptions) => HoldStore }> = [
  { name: 'RedisHoldStore', create: (options) => new RedisHoldStore(redis, { ...options, prefix: `${runPrefix}${randomUUID()}:` }) },
  { name: 'MemoryHoldStore', create: (options) => new MemoryHoldStore(options) },
];

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

function settlementFor(accountId: string, costTokens: number, requestId: string = randomUUID()): Settlement {
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
  };
}

function hold(accountId: string, amountTokens: number, extra: Partial<ReserveRequest> = {}): ReserveRequest {
  return { accountId, holdId: randomUUID(), amountTokens, minimumTokens: amountTokens, ttlSeconds: 60, ...extra };
}

describe.each(backends)('$name', ({ create }) => {
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
      expect(claimed.map((entry) => entry.settlement.requestId)).toEqual(['req-1', 'req-2', 'req-3', 'req-4']);
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
});

describe('RedisHoldStore across instances', () => {
  it('takes over settlements another consumer claimed and left idle', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const pg = new FakePostgres();
    const account = `acct-${randomUUID()}`;
    const crashed = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance, consumer: 'crashed' });
    await crashed.capture('h1', settlementFor(account, 10, 'req-1'));
    expect(await crashed.claimSettlements(10)).toHaveLength(1);

    const patient = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance, consumer: 'patient' });
    expect(await patient.claimSettlements(10)).toEqual([]); // not idle for 30 s yet
    const eager = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance, consumer: 'eager', claimIdleMs: 0 });
    const taken = await eager.claimSettlements(10);
    expect(taken.map((entry) => entry.settlement.requestId)).toEqual(['req-1']);
    await eager.ackSettlements(taken);
    expect(await crashed.claimSettlements(10)).toEqual([]);
  });

  it('recreates the settlement stream and group after Redis lost them', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const store = new RedisHoldStore(redis, { prefix, loadBalance: new FakePostgres().loadBalance });
    expect(await store.claimSettlements(10)).toEqual([]);
    await redis.del(`${prefix}settle`);
    await store.capture('h1', settlementFor('acct-x', 5, 'req-1'));
    expect((await store.claimSettlements(10)).map((entry) => entry.settlement.requestId)).toEqual(['req-1']);
  });

  it('acks more entries of one account than one script call takes, each once', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const store = new RedisHoldStore(redis, { prefix, loadBalance: new FakePostgres().loadBalance });
    await Promise.all(Array.from({ length: 1201 }, (_, n) => store.capture(`h${n}`, settlementFor('a1', 2, `req-${n}`))));
    expect(await redis.get(`${prefix}{acct:a1}:pending`)).toBe('2402');
    const claimed = await store.claimSettlements(2000);
    expect(claimed).toHaveLength(1201);
    await store.ackSettlements(claimed);
    await store.ackSettlements(claimed);
    expect(await redis.get(`${prefix}{acct:a1}:pending`)).toBe('0');
    expect(await redis.xlen(`${prefix}settle`)).toBe(0);
    expect(await store.claimSettlements(10)).toEqual([]);
  });

  it('stops redelivering an entry deleted from the stream while it was pending', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const store = new RedisHoldStore(redis, { prefix, loadBalance: new FakePostgres().loadBalance });
    await store.capture('h1', settlementFor('a1', 1, 'req-1'));
    await store.capture('h2', settlementFor('a1', 2, 'req-2'));
    const [first] = await store.claimSettlements(10);
    await redis.xdel(`${prefix}settle`, first!.id);
    expect((await store.claimSettlements(10)).map((entry) => entry.settlement.requestId)).toEqual(['req-2']);
    const [pendingCount] = (await redis.xpending(`${prefix}settle`, 'settlers')) as [number];
    expect(pendingCount).toBe(1);
  });

  it('keeps every key of an account in one Cluster slot', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const pg = new FakePostgres();
    pg.balances.set('a1', 100);
    const store = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance });
    await store.reserve(hold('a1', 50));
    await store.capture('h1', settlementFor('a1', 5));
    const keys = await redis.keys(`${prefix}*`);
    const accountKeys = keys.filter((key) => key !== `${prefix}settle`);
    expect(accountKeys.length).toBeGreaterThan(5);
    for (const key of accountKeys) expect(key.startsWith(`${prefix}{acct:a1}:`)).toBe(true);
  });
});

describe('MemoryHoldStore journal', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tokengate-journal-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a new store on the same journal queues exactly what was never acked', async () => {
    const journalFile = path.join(dir, `${randomUUID()}.jsonl`);
    const pg = new FakePostgres();
    pg.balances.set('a1', 1000);
    const before = new MemoryHoldStore({ loadBalance: pg.loadBalance, journalFile });
    await before.capture('h1', settlementFor('a1', 100, 'req-1'));
    await before.capture('h2', settlementFor('a1', 50, 'req-2'));
    const claimed = await before.claimSettlements(10);
    pg.balances.set('a1', 900);
    await before.ackSettlements(claimed.filter((entry) => entry.settlement.requestId === 'req-1'));

    const after = new MemoryHoldStore({ loadBalance: pg.loadBalance, journalFile });
    expect(readFileSync(journalFile, 'utf8').trim().split('\n')).toHaveLength(1); // compacted
    expect((await after.claimSettlements(10)).map((entry) => entry.settlement.requestId)).toEqual(['req-2']);
    // The unsettled capture is still pending: the rebuilt mirror subtracts it from Postgres.
    expect((await after.view('a1')).balanceTokens).toBe(850);
  });

  it('empties the journal once everything is acked', async () => {
    const journalFile = path.join(dir, `${randomUUID()}.jsonl`);
    const store = new MemoryHoldStore({ loadBalance: new FakePostgres().loadBalance, journalFile });
    await store.capture('h1', settlementFor('a1', 1));
    await store.ackSettlements(await store.claimSettlements(10));
    expect(readFileSync(journalFile, 'utf8')).toBe('');
    expect(await new MemoryHoldStore({ loadBalance: new FakePostgres().loadBalance, journalFile }).claimSettlements(10)).toEqual([]);
  });
});
