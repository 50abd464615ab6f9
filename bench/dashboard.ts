// npm run bench:dashboard: how fast the dashboard's pages render on a database with 1,000,000 usage
// rows and 1,000,000 ledger rows (1,000 accounts over 90 days; one "big" account holds a tenth of it).
// Creates a fresh database on the test Postgres, seeds it with SQL, starts a gateway in this process,
// signs in as the big account and as the admin, and times each page (median and max of BENCH_ROUNDS).
import postgres from 'postgres';
import { generateApiKey } from '../src/accounts/api-keys.js';
import { loadConfig } from '../src/config.js';
import { startGateway } from '../src/gateway.js';
import { createLogger } from '../src/log.js';
import { getPage, signInHttp } from '../test/helpers/dashboard-http.js';
import { createTestDatabase } from '../test/helpers/harness.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ACCOUNTS = 1_000;
const BIG = 'acct_bench_big';

async function seed(sql: postgres.Sql): Promise<void> {
  await sql`insert into accounts (id, name, email) select 'acct_bench_' || lpad(g::text, 4, '0'), 'Bench account ' || g, 'bench' || g || '@example.com' from generate_series(1, ${ACCOUNTS - 1}) g`;
  await sql`insert into accounts (id, name) values (${BIG}, 'Bench big account')`;
  // A tenth of the rows on the big account, the rest spread; 90 days back from now; 4 models, 5 operations.
  await sql`
    insert into usage_events (id, account_id, model, provider, operation, input_tokens, output_tokens, cost, rates, usage_source, status, created_at)
    select 'req_bench_' || g,
      case when g % 10 = 0 then ${BIG} else 'acct_bench_' || lpad((1 + g % ${ACCOUNTS - 1})::text, 4, '0') end,
      (array['gpt-4o-mini', 'gpt-4o', 'gemini-2.5-flash', 'mock'])[1 + g % 4], 'bench',
      (array['summarize', 'translate', 'classify', 'chat', null])[1 + g % 5],
      100 + g % 900, 20 + g % 400, 50 + g % 1000, '{}'::jsonb, 'provider', 'ok',
      now() - (g % (90 * 24 * 60)) * interval '1 minute'
    from generate_series(1, ${ROWS}) g`;
  // One opening grant per account, then one usage debit per usage row: balance_after is the running sum.
  await sql`
    insert into ledger_entries (account_id, type, amount, balance_after, reference, created_at)
    select account_id, type, amount, sum(amount) over (partition by account_id order by created_at, reference), reference, created_at
    from (
      select id as account_id, 'grant' as type, 1000000000::bigint as amount, 'opening:' || id as reference, now() - interval '91 days' as created_at from accounts where id like 'acct_bench_%'
      union all
      select account_id, 'usage', -cost, id, created_at from usage_events
    ) rows
    order by created_at`;
  await sql`update accounts a set balance = s.total from (select account_id, sum(amount) as total from ledger_entries group by account_id) s where s.account_id = a.id`;
  await sql`analyze`;
}

function stats(times: number[]): { median: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)! };
}

async function main(): Promise<void> {
  const database = await createTestDatabase();
  const adminKey = generateApiKey();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: database.url, DATA_DIR: `/tmp/tokengate-bench-dashboard-${process.pid}`, ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' });
  const gateway = await startGateway(config, createLogger('silent'));
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  try {
    const started = performance.now();
    await seed(sql);
    const [{ usage, ledger }] = (await sql`select (select count(*) from usage_events)::int as usage, (select count(*) from ledger_entries)::int as ledger`) as unknown as [{ usage: number; ledger: number }];
    process.stdout.write(`seeded ${usage.toLocaleString('en-US')} usage rows and ${ledger.toLocaleString('en-US')} ledger rows in ${((performance.now() - started) / 1000).toFixed(1)} s\n\n`);

    const created = await fetch(`${gateway.url}/admin/accounts/${BIG}/keys`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) });
    const userKey = ((await created.json()) as { key: string }).key;
    const user = await signInHttp(gateway.url, userKey);
    const admin = await signInHttp(gateway.url, adminKey);
    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
    const all = `from=${day(90)}&to=${day(0)}`; // every seeded row
    const pages: [string, typeof user, string][] = [
      ['user', user, '/dashboard'],
      ['user', user, '/dashboard/usage'],
      ['user', user, '/dashboard/usage?group=operation'],
      ['user', user, `/dashboard/usage?${all}`],
      ['user', user, '/dashboard/transactions'],
      ['user', user, '/dashboard/transactions?type=grant'],
      ['user', user, '/dashboard/keys'],
      ['admin', admin, '/dashboard/admin'],
      ['admin', admin, `/dashboard/admin?${all}`],
      ['admin', admin, '/dashboard/admin/accounts'],
      ['admin', admin, '/dashboard/admin/accounts?q=big'],
      ['admin', admin, `/dashboard/admin/accounts/${BIG}`],
    ];
    process.stdout.write(`| page | as | median ms | max ms |\n|---|---|---:|---:|\n`);
    for (const [who, session, path] of pages) {
      const times: number[] = [];
      for (let i = 0; i < ROUNDS + 1; i++) {
        const t = performance.now();
        const page = await getPage(gateway.url, session, path);
        if (page.status !== 200) throw new Error(`${path}: ${page.status}`);
        if (i > 0) times.push(performance.now() - t); // the first round warms caches and is not counted
      }
      const { median, max } = stats(times);
      process.stdout.write(`| \`${path}\` | ${who} | ${median.toFixed(0)} | ${max.toFixed(0)} |\n`);
    }
  } finally {
    await sql.end();
    await gateway.stop();
    // BENCH_KEEP=1 leaves the seeded database for EXPLAIN ANALYZE (drop it afterwards).
    if (process.env.BENCH_KEEP === '1') process.stdout.write(`\nkept database ${database.url}\n`);
    else await database.drop();
  }
}

await main();
