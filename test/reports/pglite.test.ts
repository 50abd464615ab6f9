// The report queries run on embedded PGlite too (no DATABASE_URL): the same SQL, the same answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { modelStats, operationStats, tokenStats } from '../../src/reports/stats.js';
import { listTransactions } from '../../src/reports/transactions.js';
import { listUsage, summarizeUsage } from '../../src/reports/usage.js';

let database: Database;
const dir = mkdtempSync(path.join(tmpdir(), 'tokengate-pglite-reports-'));

beforeAll(async () => {
  database = await openDatabase({ dataDir: dir });
  await runMigrations(database);
  await database.db.execute(sql`insert into accounts (id, name, balance) values ('acct_p', 'P', 0)`);
  // Five rows sharing one microsecond timestamp, two more apart.
  await database.db.execute(sql`insert into usage_events (id, account_id, model, provider, operation, input_tokens, output_tokens, cost, rates, usage_source, status, latency_ms, created_at)
    select 'req_' || n, 'acct_p', case when n % 2 = 0 then 'mock' else 'mock-large' end, 'mock', null, 10 * n, n, 12 * n, '{}'::jsonb, 'provider',
      case when n = 3 then 'error' else 'ok' end, 100 * n,
      case when n <= 5 then timestamptz '2026-01-01 00:00:00.123456+00' else timestamptz '2026-01-02 00:00:00+00' + n * interval '1 hour' end
    from generate_series(1, 7) n`);
}, 60_000);

afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reports on PGlite', () => {
  it('pages usage by keyset, sums it, and computes stats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listUsage(database.db, { accountId: 'acct_p', limit: 2, cursor });
      seen.push(...page.data.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['req_7', 'req_6', 'req_5', 'req_4', 'req_3', 'req_2', 'req_1']);

    const summary = await summarizeUsage(database.db, { accountId: 'acct_p', groupBy: 'day' });
    expect(summary.data.map((g) => [g.group, g.requests])).toEqual([['2026-01-01', 5], ['2026-01-02', 2]]);
    expect(summary.totals.cost).toBe(12 * 28);

    const models = await modelStats(database.db);
    expect(models.data.find((g) => g.group === 'mock-large')).toMatchObject({ requests: 4, errors: 1, errorRate: 0.25, latencyP50Ms: 400 });
    expect((await operationStats(database.db, { from: new Date('2026-01-02T00:00:00Z') })).data).toMatchObject([{ group: null, requests: 2 }]);
    expect(await tokenStats(database.db)).toMatchObject({ used: 0, outstanding: 0, accounts: { total: 1, withUsage: 1 } });
    expect((await listTransactions(database.db, { accountId: 'acct_p' })).data).toEqual([]);
  });
});
