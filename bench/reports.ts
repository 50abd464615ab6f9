// npm run bench:reports: latency of the usage and stats routes against a seeded database
// (DATABASE_URL, filled by bench/seed-usage.ts), through HTTP on an in-process gateway, p50 and p95
// over BENCH_CALLS calls each; then the EXPLAIN ANALYZE plan of each report query, to show which
// index it uses. Read-only apart from one admin key and one user key it creates.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { generateApiKey } from '../src/accounts/api-keys.js';
import { loadConfig } from '../src/config.js';
import * as schema from '../src/db/schema.js';
import { startGateway } from '../src/gateway.js';
import { createLogger } from '../src/log.js';
import { modelStats, operationStats, tokenStats } from '../src/reports/stats.js';
import { listUsage, summarizeUsage } from '../src/reports/usage.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 30);
const DAY = 86_400_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL must name a database seeded by bench/seed-usage.ts');
  const client = postgres(url, { max: 2, onnotice: () => {} });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tokengate-bench-reports-'));
  const adminKey = generateApiKey();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' });
  const gateway = await startGateway(config, createLogger('silent'));
  try {
    const [counts] = await client<{ rows: string; accounts: string }[]>`select (select count(*) from usage_events) as rows, (select count(*) from accounts) as accounts`;
    // The busiest account (the worst case for its own listings) and a typical one (the median).
    const ranked = await client<{ account_id: string; n: string }[]>`select account_id, count(*) as n from usage_events group by 1 order by 2 desc`;
    const busiest = ranked[0]!;
    const median = ranked[Math.floor(ranked.length / 2)]!;
    console.log(`database: ${counts!.rows} usage rows, ${counts!.accounts} accounts; busiest account ${busiest.account_id} (${busiest.n} rows), median ${median.account_id} (${median.n} rows); ${CALLS} calls per route`);

    const call = async (route: string, key: string) => {
      const response = await fetch(`${gateway.url}${route}`, { headers: { authorization: `Bearer ${key}` } });
      const body = (await response.json()) as { nextCursor?: string | null };
      if (response.status !== 200) throw new Error(`${route}: ${response.status} ${JSON.stringify(body)}`);
      return body;
    };
    const keyOf = async (accountId: string) => {
      const response = await fetch(`${gateway.url}/admin/accounts/${accountId}/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench reports' }),
      });
      return ((await response.json()) as { key: string }).key;
    };
    const busyKey = await keyOf(busiest.account_id);
    const medianKey = await keyOf(median.account_id);

    // The cursor of page 21 of the busiest account: a deep page costs what the first one does (keyset).
    let deepCursor: string | null | undefined;
    for (let page = 0; page < 20; page++) deepCursor = (await call(`/account/usage?limit=50${deepCursor ? `&cursor=${deepCursor}` : ''}`, busyKey)).nextCursor;

    const last = (days: number) => new Date(Date.now() - days * DAY).toISOString();
    const routes: [string, string, string][] = [
      ['account usage, first page (busiest)', `/account/usage?limit=50`, busyKey],
      ['account usage, page 21 (busiest)', `/account/usage?limit=50&cursor=${deepCursor}`, busyKey],
      ['account usage, model filter (busiest)', `/account/usage?limit=50&model=gemini-2.5-pro&operation=translate`, busyKey],
      ['account usage, first page (median)', `/account/usage?limit=50`, medianKey],
      ['summary by day, 30 days (busiest)', `/account/usage/summary?groupBy=day&from=${last(30)}`, busyKey],
      ['summary by model, all time (busiest)', `/account/usage/summary?groupBy=model`, busyKey],
      ['summary by key, all time (median)', `/account/usage/summary?groupBy=key`, medianKey],
      ['admin usage of an account (busiest)', `/admin/accounts/${busiest.account_id}/usage?limit=50`, adminKey],
      ['stats/tokens, all time', `/admin/stats/tokens`, adminKey],
      ['stats/tokens, last 7 days', `/admin/stats/tokens?from=${last(7)}`, adminKey],
      ['stats/models, last 1 day', `/admin/stats/models?from=${last(1)}`, adminKey],
      ['stats/models, last 30 days', `/admin/stats/models?from=${last(30)}`, adminKey],
      ['stats/models, all time', `/admin/stats/models`, adminKey],
      ['stats/operations, last 7 days', `/admin/stats/operations?from=${last(7)}`, adminKey],
    ];
    console.log('\n| route | p50 ms | p95 ms |\n|---|---:|---:|');
    for (const [name, route, key] of routes) {
      for (let i = 0; i < 2; i++) await call(route, key); // warm-up
      const times: number[] = [];
      for (let i = 0; i < CALLS; i++) {
        const started = performance.now();
        await call(route, key);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      console.log(`| ${name} | ${percentile(times, 0.5).toFixed(1)} | ${percentile(times, 0.95).toFixed(1)} |`);
    }

    // The plans of the very queries the routes run: the report functions on a db that records its SQL.
    const captured: { query: string; params: unknown[] }[] = [];
    const recording = drizzle(client, { schema, logger: { logQuery: (query, params) => captured.push({ query, params }) } });
    const plans: [string, () => Promise<unknown>][] = [
      ['listUsage (busiest, page 21)', () => listUsage(recording, { accountId: busiest.account_id, limit: 50, cursor: deepCursor ?? undefined })],
      ['listUsage (median, first page)', () => listUsage(recording, { accountId: median.account_id, limit: 50 })],
      ['summarizeUsage by key (median)', () => summarizeUsage(recording, { accountId: median.account_id, groupBy: 'key' })],
      ['summarizeUsage by day, 30 days (busiest)', () => summarizeUsage(recording, { accountId: busiest.account_id, groupBy: 'day', from: new Date(Date.now() - 30 * DAY) })],
      ['modelStats, last 1 day', () => modelStats(recording, { from: new Date(Date.now() - DAY) })],
      ['modelStats, all time', () => modelStats(recording)],
      ['tokenStats, last 7 days', () => tokenStats(recording, { from: new Date(Date.now() - 7 * DAY) })],
    ];
    for (const [name, run] of plans) {
      captured.length = 0;
      await run();
      // In one transaction, so a `set local` the function ran applies to the plans as it did to the query.
      await client.begin(async (tx) => {
        for (const { query, params } of captured) {
          if (/^(set|begin|commit)\b/i.test(query)) {
            if (/^set\b/i.test(query)) await tx.unsafe(query);
            continue;
          }
          const plan = await tx.unsafe(`explain (analyze, costs off, timing off, summary on) ${query}`, params as postgres.ParameterOrJSON<never>[]);
          console.log(`\n### ${name}\n${plan.map((row) => `    ${String(row['QUERY PLAN'])}`).join('\n')}`);
        }
      });
    }
  } finally {
    await gateway.stop();
    await client.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
