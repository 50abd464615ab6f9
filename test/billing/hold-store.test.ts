// The HoldStore contract for both implementations against real Redis (no mocks), and what only the
// Redis store does: consumers across instances, its keys, the memory store's journal.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryHoldStore } from '../../src/billing/holds/memory-store.js';
import { accountBase, shardBase, shardOf } from '../../src/billing/holds/redis-keys.js';
import { RedisHoldStore } from '../../src/billing/holds/redis-store.js';
import { FakePostgres, hold, holdStoreContract, settlementFor } from './hold-store-contract.js';

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

describe('RedisHoldStore', () => {
  holdStoreContract((options) => new RedisHoldStore(redis, { ...options, prefix: `${runPrefix}${randomUUID()}:` }));
});

describe('MemoryHoldStore', () => {
  holdStoreContract((options) => new MemoryHoldStore(options));
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
    await redis.del(`${shardBase(prefix, shardOf('acct-x'))}:settle`);
    await store.capture('h1', settlementFor('acct-x', 5, 'req-1'));
    expect((await store.claimSettlements(10)).map((entry) => entry.settlement.requestId)).toEqual(['req-1']);
  });

  it('acks more entries of one account than one script call takes, each once', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const store = new RedisHoldStore(redis, { prefix, loadBalance: new FakePostgres().loadBalance });
    await Promise.all(Array.from({ length: 1201 }, (_, n) => store.capture(`h${n}`, settlementFor('a1', 2, `req-${n}`))));
    expect(await redis.get(`${accountBase(prefix, 'a1')}:pending`)).toBe('2402');
    const claimed = await store.claimSettlements(2000);
    expect(claimed).toHaveLength(1201);
    await store.ackSettlements(claimed);
    await store.ackSettlements(claimed);
    expect(await redis.get(`${accountBase(prefix, 'a1')}:pending`)).toBe('0');
    expect(await redis.xlen(`${shardBase(prefix, shardOf('a1'))}:settle`)).toBe(0);
    expect(await store.claimSettlements(10)).toEqual([]);
  });

  it('stops redelivering an entry deleted from the stream while it was pending', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const store = new RedisHoldStore(redis, { prefix, loadBalance: new FakePostgres().loadBalance });
    await store.capture('h1', settlementFor('a1', 1, 'req-1'));
    await store.capture('h2', settlementFor('a1', 2, 'req-2'));
    const [first] = await store.claimSettlements(10);
    const stream = `${shardBase(prefix, shardOf('a1'))}:settle`;
    await redis.xdel(stream, first!.id);
    expect((await store.claimSettlements(10)).map((entry) => entry.settlement.requestId)).toEqual(['req-2']);
    const [pendingCount] = (await redis.xpending(stream, 'settlers')) as [number];
    expect(pendingCount).toBe(1);
  });

  it('keeps every key of an account, and the stream and index it writes to, under one hash tag', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const pg = new FakePostgres();
    pg.balances.set('a1', 100);
    const store = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance });
    await store.reserve(hold('a1', 50));
    await store.capture('h1', settlementFor('a1', 5));
    await store.claimSettlements(10);
    const keys = await redis.keys(`${prefix}*`);
    const accountKeys = keys.filter((key) => key.includes(':acct:a1:'));
    expect(accountKeys.length).toBeGreaterThan(6);
    const tags = new Set(accountKeys.map((key) => /\{([^}]*)\}/.exec(key)?.[1]));
    expect([...tags]).toEqual([`s${shardOf('a1')}`]);
    expect(keys).toContain(`${shardBase(prefix, shardOf('a1'))}:settle`);
    expect(keys).toContain(`${shardBase(prefix, shardOf('a1'))}:expiry`);
  });

  it('removes a dead consumer from the group once its entries are claimed', async () => {
    const prefix = `${runPrefix}${randomUUID()}:`;
    const pg = new FakePostgres();
    const crashed = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance, consumer: 'crashed' });
    await crashed.capture('h1', settlementFor('a1', 3, 'req-1'));
    expect(await crashed.claimSettlements(10)).toHaveLength(1);
    const stream = `${shardBase(prefix, shardOf('a1'))}:settle`;
    const consumers = async () => ((await redis.xinfo('CONSUMERS', stream, 'settlers')) as unknown[][]).map((c) => String(c[1]));
    expect(await consumers()).toContain('crashed');
    const survivor = new RedisHoldStore(redis, { prefix, loadBalance: pg.loadBalance, consumer: 'survivor', claimIdleMs: 0 });
    expect((await survivor.claimSettlements(10)).map((e) => e.settlement.requestId)).toEqual(['req-1']); // takes it over
    await survivor.claimSettlements(10); // crashed now owns nothing: removed
    expect(await consumers()).toEqual(['survivor']);
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
