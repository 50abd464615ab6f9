// GET /admin/stats/tokens, /admin/stats/models, /admin/stats/operations (SPEC 4, "Admin"): every
// number equals a sum this test computes from the raw rows; auditors read, users are refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { post } from '../../src/billing/ledger.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';
import { expectBadRequest, groupBy, insertUsage, percentileCont, rawUsage, type RawUsage } from './support.js';

const env = useTestGateway();
let auditorKey = '';
let userKey = '';
const usage: RawUsage[] = [];

/** A Stripe-like credit or reversal, posted through the ledger module as the webhook handlers do. */
async function stripePosting(database: Database, accountId: string, type: 'purchase' | 'auto_recharge' | 'refund' | 'dispute' | 'dispute_won' | 'adjustment', amount: number, cents: number, currency: string, reference: string) {
  const metadata = { source: 'stripe', amountCents: cents, currency, ...(type === 'adjustment' ? { reason: 'refund_failed' } : {}) };
  await post(database.db, { accountId, type, amount, reference, metadata, allowNegative: true });
}

beforeAll(async () => {
  const a = await accountWithBalance(env.gw, 5_000);
  const b = await accountWithBalance(env.gw, 0);
  const c = await accountWithBalance(env.gw, 700);
  auditorKey = await keyFor(env.gw, a, 'auditor');
  userKey = await keyFor(env.gw, a, 'user');
  expect((await env.gw.request('PATCH', `/admin/accounts/${c.id}`, { key: env.gw.adminKey, body: { status: 'suspended' } })).status).toBe(200);
  expect((await env.gw.request('POST', `/admin/accounts/${a.id}/grants`, { key: env.gw.adminKey, body: { amount: -300, reason: 'correction', idempotencyKey: 'stats-deduct' } })).status).toBe(201);
  expect((await env.gw.request('POST', `/admin/accounts/${b.id}/grants`, { key: env.gw.adminKey, body: { amount: 1_200, reason: 'promo', idempotencyKey: 'stats-grant' } })).status).toBe(201);

  const database = await openDatabase({ databaseUrl: env.gw.database.url, dataDir: '/tmp', poolSize: 2 });
  try {
    await stripePosting(database, a.id, 'purchase', 100_000, 1_000, 'usd', 'pi_stats_1');
    await stripePosting(database, b.id, 'purchase', 50_000, 450, 'eur', 'pi_stats_2');
    await stripePosting(database, b.id, 'auto_recharge', 20_000, 200, 'usd', 'pi_stats_3');
    await stripePosting(database, a.id, 'refund', -10_000, 100, 'usd', 're_stats_1');
    await stripePosting(database, a.id, 'adjustment', 4_000, 40, 'usd', 'refund_failed:re_stats_1');
    await stripePosting(database, b.id, 'dispute', -50_000, 450, 'eur', 'du_stats_1');
    await stripePosting(database, b.id, 'dispute_won', 50_000, 450, 'eur', 'du_stats_1_won');
    for (const [i, cost] of [1_234, 77, 3_210].entries()) {
      await post(database.db, { accountId: i === 1 ? b.id : a.id, type: 'usage', amount: -cost, reference: `req_stats_ledger_${i}`, allowNegative: true });
    }
  } finally {
    await database.close();
  }

  const models = ['mock', 'mock-large', 'gpt-4o-mini'];
  const operations = [null, 'refine-content', 'summarize', 'translate'];
  const statuses = ['ok', 'ok', 'ok', 'error', 'ok', 'client_aborted', 'ok', 'interrupted'] as const;
  for (let i = 0; i < 61; i++) {
    usage.push(
      rawUsage(i % 2 === 0 ? a.id : b.id, {
        model: models[i % 3]!,
        operation: operations[i % 4]!,
        status: statuses[i % 8]!,
        latencyMs: 20 + ((i * 7919) % 4000),
        createdAt: new Date(Date.UTC(2026, 5, 1) + i * 3_600_000).toISOString(),
      }),
    );
  }
  await insertUsage(env.sql, usage);
});

describe('GET /admin/stats/tokens', () => {
  it('reports sold, reversed, granted, deducted, adjusted, used, outstanding, accounts and revenue as the raw rows add up', async () => {
    const response = await env.gw.request('GET', '/admin/stats/tokens', { key: env.gw.adminKey });
    expect(response.status, JSON.stringify(response.body)).toBe(200);

    const ledger = await env.sql<{ type: string; amount: number; metadata: Record<string, unknown> }[]>`select type, amount::int as amount, metadata from ledger_entries`;
    const sum = (types: string[]) => ledger.filter((e) => types.includes(e.type)).reduce((s, e) => s + e.amount, 0);
    const accounts = await env.sql<{ status: string; balance: number }[]>`select status, balance::int as balance from accounts`;
    const expected = {
      sold: sum(['purchase', 'auto_recharge']),
      reversed: -sum(['refund', 'dispute', 'dispute_won']),
      granted: sum(['grant']),
      deducted: -sum(['deduction']),
      adjusted: sum(['adjustment']),
      used: -sum(['usage']),
      outstanding: accounts.reduce((s, a) => s + a.balance, 0),
    };
    // The numbers this test posted, so the raw sums are not trivially zero.
    expect(expected).toMatchObject({ sold: 170_000, reversed: 10_000, deducted: 300, adjusted: 4_000, used: 4_521 });
    expect(expected.granted).toBeGreaterThanOrEqual(5_000 + 700 + 1_200);
    expect(response.body).toMatchObject(expected);
    // The ledger invariant, in the terms of this report.
    expect(response.body.outstanding).toBe(expected.sold - expected.reversed + expected.granted - expected.deducted + expected.adjusted - expected.used);
    expect(response.body.accounts).toEqual({
      total: accounts.length,
      active: accounts.filter((a) => a.status === 'active').length,
      suspended: 1,
      withUsage: new Set(usage.map((u) => u.accountId)).size,
    });
    expect(response.body.revenue).toEqual([
      { currency: 'eur', payments: 1, grossCents: 450, refundedCents: 0, disputedCents: 0, netCents: 450 },
      { currency: 'usd', payments: 2, grossCents: 1_200, refundedCents: 60, disputedCents: 0, netCents: 1_140 },
    ]);
  });

  it('a range limits flows and revenue, not balances or account counts', async () => {
    const future = await env.gw.request('GET', '/admin/stats/tokens?from=2099-01-01', { key: auditorKey });
    expect(future.status).toBe(200);
    expect(future.body).toMatchObject({ sold: 0, granted: 0, used: 0, revenue: [], range: { from: '2099-01-01T00:00:00.000Z', to: null } });
    expect(future.body.accounts.withUsage).toBe(0);
    const all = await env.gw.request('GET', '/admin/stats/tokens', { key: auditorKey });
    expect(future.body.outstanding).toBe(all.body.outstanding);
    expect(future.body.accounts.total).toBe(all.body.accounts.total);
  });
});

describe('GET /admin/stats/models and /admin/stats/operations', () => {
  function expectedTraffic(rows: RawUsage[], keyOf: (r: RawUsage) => string | null) {
    return [...groupBy(rows, keyOf)].map(([group, members]) => {
      const errors = members.filter((m) => m.status === 'error').length;
      const latencies = members.map((m) => m.latencyMs);
      return {
        group,
        requests: members.length,
        inputTokens: members.reduce((s, m) => s + m.inputTokens, 0),
        cachedInputTokens: members.reduce((s, m) => s + m.cachedInputTokens, 0),
        outputTokens: members.reduce((s, m) => s + m.outputTokens, 0),
        reasoningTokens: members.reduce((s, m) => s + m.reasoningTokens, 0),
        images: members.reduce((s, m) => s + m.images, 0),
        tokensCharged: members.reduce((s, m) => s + m.cost, 0),
        errors,
        errorRate: Math.round((errors / members.length) * 10_000) / 10_000,
        clientAborted: members.filter((m) => m.status === 'client_aborted').length,
        interrupted: members.filter((m) => m.status === 'interrupted').length,
        latencyP50Ms: Math.round(percentileCont(latencies, 0.5) * 10) / 10,
        latencyP95Ms: Math.round(percentileCont(latencies, 0.95) * 10) / 10,
      };
    });
  }
  const byGroup = (a: { group: string | null }, b: { group: string | null }) => String(a.group).localeCompare(String(b.group));

  it('per model: requests, tokens, tokens charged, error rate and latency percentiles equal those of the raw rows', async () => {
    const response = await env.gw.request('GET', '/admin/stats/models', { key: env.gw.adminKey });
    expect(response.status).toBe(200);
    expect(response.body.range).toEqual({ from: null, to: null });
    expect([...response.body.data].sort(byGroup)).toEqual(expectedTraffic(usage, (r) => r.model).sort(byGroup));
    const requests = response.body.data.map((g: { requests: number }) => g.requests);
    expect(requests).toEqual([...requests].sort((x, y) => y - x)); // busiest first
  });

  it('per operation, within a range (from inclusive, to exclusive), read by an auditor', async () => {
    const from = '2026-06-01T05:00:00Z';
    const to = '2026-06-02T11:00:00Z';
    const response = await env.gw.request('GET', `/admin/stats/operations?from=${from}&to=${to}`, { key: auditorKey });
    expect(response.status).toBe(200);
    const inside = usage.filter((r) => r.createdAt >= '2026-06-01T05:00:00.000Z' && r.createdAt < '2026-06-02T11:00:00.000Z');
    expect(inside.length).toBe(30);
    expect([...response.body.data].sort(byGroup)).toEqual(expectedTraffic(inside, (r) => r.operation).sort(byGroup));
    expect(response.body.data.some((g: { group: string | null }) => g.group === null)).toBe(true);
  });

  it('refuses bad ranges (400 naming the field) and keys that are not admin or auditor (403)', async () => {
    expectBadRequest(await env.gw.request('GET', '/admin/stats/models?from=last-week', { key: env.gw.adminKey }), 'from');
    expectBadRequest(await env.gw.request('GET', '/admin/stats/operations?to=2026-02-30T00:00:00Z', { key: env.gw.adminKey }), 'to'); // no such day
    expectBadRequest(await env.gw.request('GET', '/admin/stats/tokens?from=2026-02-01&to=2026-01-01', { key: env.gw.adminKey }), 'to');
    for (const path of ['/admin/stats/tokens', '/admin/stats/models', '/admin/stats/operations']) {
      expect((await env.gw.request('GET', path, { key: userKey })).status, path).toBe(403);
      expect((await env.gw.request('GET', path)).status, path).toBe(401);
    }
  });
});
