// writeSettlements on both database backends (real Postgres, and PGlite as the embedded mode runs it):
// every settlement is written once, each account's ledger keeps its running balance, replays change
// nothing, and on Postgres two settlers racing over the same accounts or requests stay correct.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/accounts/accounts.js';
import type { Settlement } from '../../src/billing/holds/types.js';
import { reconcileQuery } from '../../src/billing/ledger.js';
import { writeSettlements } from '../../src/billing/settler.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { settlementFor } from '../helpers/settlements.js';
import { createTestDatabase, type TestDatabase } from '../helpers/harness.js';


type LedgerRow = {
  id: string | number;
  amount: string | number;
  balance_after: string | number;
  reference: string;
  metadata: unknown;
};

const backends = [
  {
    name: 'Postgres',
    async open() {
      const testDatabase = await createTestDatabase();
      const database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/nonexistent' });
      return { database, testDatabase, close: async () => (await database.close(), await testDatabase.drop()) };
    },
  },
  {
    name: 'PGlite',
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'tokengate-settle-'));
      const database = await openDatabase({ dataDir: dir });
      return { database, testDatabase: undefined, close: async () => (await database.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
];

describe.each(backends)('writeSettlements on $name', ({ open }) => {
  let database: Database;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ database, close } = await open());
    await runMigrations(database);
  });
  afterAll(async () => close?.());

  const accountWithBalance = async (balance: number) => (await createAccount(database.db, { name: 'settle', openingGrantTokens: balance })).id;
  const usageLedger = (accountId: string) =>
    database.rows<LedgerRow>(sql`
      select id, amount, balance_after, reference, metadata from ledger_entries
      where account_id = ${accountId} and type = 'usage' order by id`);
  const balanceOf = async (accountId: string) =>
    Number((await database.rows<{ balance: string | number }>(sql`select balance from accounts where id = ${accountId}`))[0]!.balance);
  const usageCount = async (ids: string[]) =>
    Number(
      (await database.rows<{ n: number }>(sql`select count(*)::int as n from usage_events where id in (${sql.join(ids.map((id) => sql`${id}`), sql`, `)})`))[0]!.n,
    );
  const mismatches = (accountIds: string[]) =>
    database.rows<{ account_id: string }>(reconcileQuery).then((rows) => rows.filter((r) => accountIds.includes(r.account_id)));

  it('writes a batch once when it is written twice, with the running balance in id order', async () => {
    const account = await accountWithBalance(1_000);
    const batch = [settlementFor(account, 10), settlementFor(account, 20), settlementFor(account, 30)];
    await writeSettlements(database.db, batch);
    await writeSettlements(database.db, batch);

    const ledger = await usageLedger(account);
    expect(ledger.map((r) => [r.reference, Number(r.amount), Number(r.balance_after)])).toEqual([
      [batch[0]!.requestId, -10, 990],
      [batch[1]!.requestId, -20, 970],
      [batch[2]!.requestId, -30, 940],
    ]);
    expect(ledger[0]!.metadata).toEqual({ model: 'mock', operation: null, usageSource: 'provider' });
    expect(await balanceOf(account)).toBe(940);
    expect(await usageCount(batch.map((s) => s.requestId))).toBe(3);
    expect(await mismatches([account])).toEqual([]);
  });

  it('settles a batch mixing accounts, a repeated request, a free request and an overdraft', async () => {
    const [a, b] = [await accountWithBalance(100), await accountWithBalance(50)];
    const repeated = settlementFor(a, 7);
    const free = settlementFor(b, 0, { status: 'client_aborted' });
    const batch = [settlementFor(b, 30), repeated, settlementFor(a, 3), free, repeated, settlementFor(b, 40), settlementFor(a, 1)];
    await writeSettlements(database.db, batch);

    expect((await usageLedger(a)).map((r) => [Number(r.amount), Number(r.balance_after)])).toEqual([[-7, 93], [-3, 90], [-1, 89]]);
    expect((await usageLedger(b)).map((r) => [Number(r.amount), Number(r.balance_after)])).toEqual([[-30, 20], [-40, -20]]);
    expect(await balanceOf(a)).toBe(89);
    expect(await balanceOf(b)).toBe(-20); // usage bills what was served, even past zero
    expect(await usageCount(batch.map((s) => s.requestId))).toBe(6); // the free one too; the repeat once
    expect(await mismatches([a, b])).toEqual([]);

    // A later batch that repeats some of these and adds new ones posts only the new ones.
    const later = settlementFor(a, 9);
    await writeSettlements(database.db, [batch[1]!, later, batch[5]!]);
    expect((await usageLedger(a)).map((r) => Number(r.balance_after))).toEqual([93, 90, 89, 80]);
    expect(await balanceOf(b)).toBe(-20);
    expect(await mismatches([a, b])).toEqual([]);
  });

  it('stores every usage column as the settlement carries it', async () => {
    const account = await accountWithBalance(1_000);
    const full = settlementFor(account, 12, {
      keyId: 'key_1',
      model: 'gpt-4o-mini',
      provider: 'openai',
      operation: 'chat',
      inputTokens: 100,
      cachedInputTokens: 40,
      outputTokens: 25,
      reasoningTokens: 5,
      images: 2,
      rates: { input: 150_000, cachedInput: 75_000, output: 600_000, per: 1_000_000, note: 'quote "x"' },
      usageSource: 'estimated',
      status: 'error',
      latencyMs: 321,
      stream: true,
      createdAt: '2026-01-02T03:04:05.678Z',
    });
    await writeSettlements(database.db, [full]);
    const [row] = await database.rows<Record<string, unknown>>(sql`
      select id, account_id, key_id, model, provider, operation, input_tokens, cached_input_tokens, output_tokens,
             reasoning_tokens, images, cost::int as cost, rates, usage_source, status, latency_ms, stream,
             to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
      from usage_events where id = ${full.requestId}`);
    expect(row).toEqual({
      id: full.requestId,
      account_id: account,
      key_id: 'key_1',
      model: 'gpt-4o-mini',
      provider: 'openai',
      operation: 'chat',
      input_tokens: 100,
      cached_input_tokens: 40,
      output_tokens: 25,
      reasoning_tokens: 5,
      images: 2,
      cost: 12,
      rates: full.rates,
      usage_source: 'estimated',
      status: 'error',
      latency_ms: 321,
      stream: true,
      created_at: '2026-01-02T03:04:05.678Z',
    });
  });

  it('writes nothing of a batch that names an unknown account', async () => {
    const account = await accountWithBalance(1_000);
    const good = settlementFor(account, 10);
    const poison = settlementFor('acct_does_not_exist', 5);
    await expect(writeSettlements(database.db, [good, poison])).rejects.toThrow();
    await expect(writeSettlements(database.db, [good, settlementFor('acct_does_not_exist', 0)])).rejects.toThrow();
    expect(await usageLedger(account)).toEqual([]);
    expect(await usageCount([good.requestId, poison.requestId])).toBe(0);
    expect(await balanceOf(account)).toBe(1_000);
  });
});

describe('writeSettlements on Postgres with concurrent settlers', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let direct: postgres.Sql;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/nonexistent' });
    await runMigrations(database);
    direct = postgres(testDatabase.url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await direct?.end();
    await database?.close();
    await testDatabase?.drop();
  });

  it('skips a request another settler posted while this one waited for the account lock', async () => {
    const { id: account } = await createAccount(database.db, { name: 'race', openingGrantTokens: 1_000 });
    const [raced, mine] = [settlementFor(account, 100), settlementFor(account, 10)];
    let writing: Promise<void> | undefined;
    await direct.begin(async (tx) => {
      await tx`select 1 from accounts where id = ${account} for update`;
      writing = writeSettlements(database.db, [raced, mine]);
      writing.catch(() => {}); // awaited below; a failure must not surface as unhandled meanwhile
      // Wait until the settler is blocked on the account row, then post `raced` the way it would.
      for (let waited = 0; ; waited += 10) {
        const [{ n }] = await direct<[{ n: number }]>`
          select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
        if (n > 0) break;
        if (waited > 5_000) throw new Error('the settler never waited for the account lock');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await tx`insert into ledger_entries (account_id, type, amount, balance_after, reference) values (${account}, 'usage', -100, 900, ${raced.requestId})`;
      await tx`update accounts set balance = 900 where id = ${account}`;
    });
    await writing;

    const rows = await direct<{ reference: string; balance_after: string }[]>`
      select reference, balance_after from ledger_entries where account_id = ${account} and type = 'usage' order by id`;
    expect(rows.map((r) => [r.reference, Number(r.balance_after)])).toEqual([
      [raced.requestId, 900],
      [mine.requestId, 890],
    ]);
    const [{ balance }] = await direct<[{ balance: string }]>`select balance from accounts where id = ${account}`;
    expect(Number(balance)).toBe(890);
  });

  it('two settlers writing batches over the same accounts at once neither deadlock nor double-bill', async () => {
    const accounts = [
      (await createAccount(database.db, { name: 'a', openingGrantTokens: 10_000 })).id,
      (await createAccount(database.db, { name: 'b', openingGrantTokens: 10_000 })).id,
    ];
    const all: Settlement[] = [];
    for (let round = 0; round < 10; round++) {
      const one = [settlementFor(accounts[0]!, 1), settlementFor(accounts[1]!, 2), settlementFor(accounts[0]!, 3)];
      const two = [settlementFor(accounts[1]!, 4), settlementFor(accounts[0]!, 5)];
      all.push(...one, ...two);
      // Different requests of the same accounts: the foreign-key checks of the usage rows must not
      // deadlock with the account locks.
      await Promise.all([writeSettlements(database.db, one), writeSettlements(database.db, two)]);
      // The same requests twice at once, as when a batch is taken over from a slow settler.
      const three = [settlementFor(accounts[0]!, 6), settlementFor(accounts[1]!, 7)];
      all.push(...three);
      await Promise.all([writeSettlements(database.db, three), writeSettlements(database.db, [...three].reverse())]);
    }
    const [{ n, debited }] = await direct<[{ n: number; debited: string }]>`
      select count(*)::int as n, -sum(amount) as debited from ledger_entries where account_id in ${direct(accounts)} and type = 'usage'`;
    expect(n).toBe(all.length);
    expect(Number(debited)).toBe(all.reduce((sum, s) => sum + s.costTokens, 0));
    const bad = (await database.rows<{ account_id: string }>(reconcileQuery)).filter((r) => accounts.includes(r.account_id));
    expect(bad).toEqual([]);
  });
});
