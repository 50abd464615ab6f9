// GET /admin/reconcile: proves SPEC 2.2 on demand (balance == sum(ledger), balance_after is the running sum).
import { Hono } from 'hono';
import { reconcileQuery } from '../../billing/ledger.js';
import { toTokens } from '../../billing/money.js';
import type { AppEnv } from '../../http/context.js';

export const adminReconcile = new Hono<AppEnv>();

adminReconcile.get('/reconcile', async (c) => {
  const { database } = c.get('deps');
  const rows = await database.rows<{ account_id: string; balance: string; ledger_sum: string; bad_running_rows: string }>(reconcileQuery);
  const mismatches = rows.map((r) => ({
    accountId: r.account_id,
    balance: toTokens(r.balance),
    ledgerSum: toTokens(r.ledger_sum),
    badRunningRows: Number(r.bad_running_rows),
  }));
  return c.json({ ok: mismatches.length === 0, mismatches, checkedAt: new Date().toISOString() });
});
