// Migrations at start (issue 3): idempotent, and safe when several processes or gateways start at once.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { MIGRATION_LOCK_ID, runMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, startTestGateway, type TestDatabase, type TestGateway } from '../helpers/harness.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const JOURNAL = JSON.parse(readFileSync(new URL('../../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: { tag: string }[] };
const ALL_TAGS = JOURNAL.entries.map((e) => e.tag);
const TABLES = ['accounts', 'api_keys', 'auto_recharge_attempts', 'balance_alerts', 'ledger_entries', 'packages', 'settings', 'stored_response_items', 'stored_responses', 'stripe_events', 'stripe_reversals', 'usage_events'];

const databases: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

afterAll(async () => {
  for (const database of databases) await database.drop();
});

/** What a migrated schema holds: tables, migration bookkeeping rows and the append-only triggers. */
async function inspect(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const tables = await sql<{ table_name: string; n: string }[]>`
      select table_name, count(*) as n from information_schema.tables
      where table_schema = 'public' group by table_name order by table_name`;
    const migrations = await sql<{ hash: string; created_at: string }[]>`select hash, created_at from drizzle.__drizzle_migrations order by id`;
    const triggers = await sql<{ tgname: string }[]>`
      select tgname from pg_trigger where tgrelid = 'ledger_entries'::regclass and not tgisinternal order by tgname`;
    return {
      tables: Object.fromEntries(tables.map((t) => [t.table_name, Number(t.n)])),
      migrations: migrations.length,
      distinctMigrations: new Set(migrations.map((m) => m.created_at)).size,
      triggers: triggers.map((t) => t.tgname),
    };
  } finally {
    await sql.end();
  }
}

function expectFullyMigratedOnce(state: Awaited<ReturnType<typeof inspect>>) {
  expect(state.tables).toEqual(Object.fromEntries(TABLES.map((t) => [t, 1])));
  expect(state.migrations).toBe(ALL_TAGS.length);
  expect(state.distinctMigrations).toBe(ALL_TAGS.length);
  expect(state.triggers).toEqual(['ledger_entries_no_truncate', 'ledger_entries_no_update_or_delete']);
}

/**
 * Holds the migration lock so that starters pile up behind it; resolves once `waiters` of them are
 * blocked on it, which proves they really run at the same time. release() lets them all go at once.
 */
async function holdMigrationLock(url: string) {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const holder = await sql.reserve();
  await holder`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
  return {
    async waitForWaiters(waiters: number, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await sql<{ n: string }[]>`
          select count(*) as n from pg_locks
          where locktype = 'advisory' and classid = 0 and objid = ${MIGRATION_LOCK_ID} and not granted`;
        if (Number(row!.n) >= waiters) return;
        if (Date.now() > deadline) throw new Error(`only ${row!.n} of ${waiters} starters reached the migration lock`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async release() {
      await holder`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      holder.release();
      await sql.end();
    },
  };
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a small ESM snippet in a child Node process that loads TypeScript through tsx. */
function runNode(code: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', code], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const MIGRATE_SNIPPET = `
  import { openDatabase } from ${JSON.stringify(`${ROOT}src/db/client.ts`)};
  import { runMigrations } from ${JSON.stringify(`${ROOT}src/db/migrate.ts`)};
  const database = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: process.env.DATA_DIR });
  try {
    process.stdout.write(JSON.stringify(await runMigrations(database)) + '\\n');
  } finally {
    await database.close();
  }
`;

describe('runMigrations', () => {
  it('applies every migration on a fresh database, and nothing the second time', async () => {
    const { url } = await freshDatabase();
    const database = await openDatabase({ databaseUrl: url, dataDir: tmpdir(), poolSize: 2 });
    try {
      expect(await runMigrations(database)).toEqual(ALL_TAGS);
      expect(await runMigrations(database)).toEqual([]);
    } finally {
      await database.close();
    }
    expectFullyMigratedOnce(await inspect(url));
  });

  it('two processes migrating one fresh database at once both succeed and apply each migration once', async () => {
    const { url } = await freshDatabase();
    const env = { DATABASE_URL: url, DATA_DIR: tmpdir() };
    const lock = await holdMigrationLock(url);
    const children = Promise.all([runNode(MIGRATE_SNIPPET, env), runNode(MIGRATE_SNIPPET, env)]);
    try {
      await lock.waitForWaiters(2);
    } finally {
      await lock.release();
    }
    const [a, b] = await children;
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    // One of them applied everything; the other, having waited for the lock, found nothing to do.
    const applied = [JSON.parse(a.stdout) as string[], JSON.parse(b.stdout) as string[]].sort((x, y) => y.length - x.length);
    expect(applied).toEqual([ALL_TAGS, []]);
    expectFullyMigratedOnce(await inspect(url));
  });

  it('two gateways starting at once on one fresh database both serve it', async () => {
    const database = await freshDatabase();
    const lock = await holdMigrationLock(database.url);
    const starting = Promise.allSettled([startTestGateway({ database }), startTestGateway({ database })]);
    try {
      await lock.waitForWaiters(2);
    } finally {
      await lock.release();
    }
    const results = await starting;
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (started.length < 2) {
      for (const gateway of started) await gateway.stop({ keepDatabase: true });
      throw results.find((r) => r.status === 'rejected')?.reason;
    }
    const [first, second] = started as [TestGateway, TestGateway];
    try {
      expectFullyMigratedOnce(await inspect(database.url));
      // Each registered its own ADMIN_API_KEY; an account made through one is visible through the other.
      const created = await first.request('POST', '/admin/accounts', { key: first.adminKey, body: { name: 'shared', grant: 42 } });
      expect(created.status).toBe(201);
      const seen = await second.request('GET', `/admin/accounts/${created.body.id}`, { key: second.adminKey });
      expect(seen.status).toBe(200);
      expect(seen.body.balance).toBe(42);
      expect((await second.request('GET', '/readyz')).status).toBe(200);
      // Default settings and packages were seeded once, not twice.
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      try {
        const [settings] = await sql<{ n: string; distinct: string }[]>`select count(*) as n, count(distinct key) as distinct from settings`;
        expect(Number(settings!.n)).toBeGreaterThan(0);
        expect(settings!.n).toBe(settings!.distinct);
        const operators = await sql`select id from accounts where id = 'acct_operator'`;
        expect(operators).toHaveLength(1);
      } finally {
        await sql.end();
      }
    } finally {
      await first.stop({ keepDatabase: true });
      await second.stop({ keepDatabase: true });
    }
  });
});
