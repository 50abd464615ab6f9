// npm run bench:seed-usage: fills the database named by DATABASE_URL with 1,000 accounts and
// 1,000,000 usage rows (over the last 90 days, a few busy accounts and many quiet ones), each with its
// usage ledger row, so the report routes can be measured at size (bench/reports.ts). Set-based:
// a handful of INSERT ... SELECT over generate_series, no per-row round trips. Deterministic (setseed).
// The balances stay consistent (opening grant minus usage, balance_after a running sum), so
// GET /admin/reconcile still holds. Refuses a database that already has usage rows.
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { seed } from '../src/db/seed.js';

const ACCOUNTS = positiveEnv('SEED_ACCOUNTS', 1_000);
const ROWS = positiveEnv('SEED_ROWS', 1_000_000);
const OPENING_GRANT = 1_000_000_000; // billing tokens per account: far more than its usage

function positiveEnv(name: string, fallback: number): number {
  const value = process.env[name] === undefined ? fallback : Number(process.env[name]);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL must name the database to seed (e.g. postgres://postgres@127.0.0.1:5432/bench_reports)');
  const database = await openDatabase({ databaseUrl: url, dataDir: '/tmp', poolSize: 1 });
  const step = async (what: string, query: ReturnType<typeof sql>) => {
    const started = performance.now();
    await database.db.execute(query);
    console.log(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  };
  try {
    await runMigrations(database);
    await seed(database.db);
    const [existing] = await database.rows<{ n: string }>(sql`select count(*) as n from (select 1 from usage_events limit 1) t`);
    if (Number(existing!.n) > 0) throw new Error('usage_events is not empty: seed a fresh database');
    const started = performance.now();
    await step('accounts and opening grants', sql`
      with made as (
        insert into accounts (id, name, email, status, balance, created_at)
        select 'acct_bench_' || lpad(n::text, 4, '0'), 'Bench account ' || n, 'bench' || n || '@example.com',
          case when n % 50 = 0 then 'suspended' else 'active' end, ${OPENING_GRANT}, now() - interval '120 days'
        from generate_series(1, ${ACCOUNTS}) n
        returning id, created_at)
      insert into ledger_entries (account_id, type, amount, balance_after, reference, metadata, created_at)
      select id, 'grant', ${OPENING_GRANT}, ${OPENING_GRANT}, 'bench:opening:' || id, '{"reason":"bench seed"}'::jsonb, created_at from made`);
    // random()^3 makes a few accounts busy and most quiet, like real tenants. Rows are written in
    // created_at order (as the settler writes them), which is how the table is laid out in production.
    await database.db.execute(sql`select setseed(0.42)`); // one connection (poolSize 1): the insert below uses it
    await step(`${ROWS.toLocaleString('en-US')} usage rows`, sql`
      insert into usage_events (id, account_id, key_id, model, provider, operation, input_tokens, cached_input_tokens,
        output_tokens, reasoning_tokens, images, cost, rates, usage_source, status, latency_ms, stream, created_at)
      select 'req_bench_' || lpad(n::text, 8, '0'), account_id, 'key_bench_' || substr(account_id, 12) || '_' || (n % 3),
        model, provider, operation, input_tokens, cached_tokens, output_tokens, reasoning_tokens, 0,
        ceil(((input_tokens - cached_tokens)::numeric * input_rate + cached_tokens::numeric * input_rate / 2 + output_tokens::numeric * output_rate) / 1000000)::bigint,
        jsonb_build_object('input', input_rate, 'cachedInput', input_rate / 2, 'output', output_rate, 'per', 1000000),
        case when n % 40 = 0 then 'estimated' else 'provider' end,
        case when n % 50 = 0 then 'error' when n % 97 = 0 then 'client_aborted' else 'ok' end,
        (40 + random() * random() * 6000)::int, n % 2 = 0, created_at
      from (
        select n, 'acct_bench_' || lpad((1 + floor(${ACCOUNTS} * power(random(), 3)))::int::text, 4, '0') as account_id,
          (array['gpt-4o-mini', 'gpt-4o', 'gemini-2.5-flash', 'gemini-2.5-pro', 'o4-mini', 'mock'])[1 + n % 6] as model,
          (array['openai', 'openai', 'gemini', 'gemini', 'openai', 'mock'])[1 + n % 6] as provider,
          (array[150000, 2500000, 300000, 1250000, 1100000, 1000000])[1 + n % 6] as input_rate,
          (array[600000, 10000000, 2500000, 10000000, 4400000, 2000000])[1 + n % 6] as output_rate,
          (array[null, 'refine-content', 'summarize', 'translate', 'classify', 'chat', 'extract', 'embed-docs'])[1 + (n / 7) % 8] as operation,
          input_tokens, (input_tokens * (n % 4) / 8) as cached_tokens, output_tokens,
          case when n % 6 = 4 then output_tokens / 2 else 0 end as reasoning_tokens,
          now() - interval '90 days' * (1 - n::float8 / ${ROWS}) as created_at
        from (select n, (20 + random() * random() * 8000)::int as input_tokens, (5 + random() * random() * 1500)::int as output_tokens
              from generate_series(1, ${ROWS}) n) g
      ) r
      order by created_at`);
    await step('usage ledger rows (running balances)', sql`
      insert into ledger_entries (account_id, type, amount, balance_after, reference, metadata, created_at)
      select account_id, 'usage', -cost,
        ${OPENING_GRANT} - sum(cost) over (partition by account_id order by created_at, id rows unbounded preceding),
        id, jsonb_build_object('model', model, 'operation', operation, 'usageSource', usage_source), created_at
      from usage_events where id like 'req_bench_%'
      order by created_at, id`);
    await step('balances', sql`
      update accounts a set balance = a.balance - u.cost
      from (select account_id, sum(cost) as cost from usage_events group by account_id) u
      where u.account_id = a.id`);
    await step('analyze', sql`analyze`);
    const [sizes] = await database.rows<Record<string, string>>(sql`select
      (select count(*) from accounts) as accounts, (select count(*) from usage_events) as usage_rows,
      (select count(*) from ledger_entries) as ledger_rows, pg_size_pretty(pg_total_relation_size('usage_events')) as usage_size`);
    console.log(`seeded in ${((performance.now() - started) / 1000).toFixed(1)} s:`, sizes);
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
