// GET /admin/reconcile: proves SPEC 2.2 and 2.6 on demand. Postgres: balance == sum(ledger) and
// balance_after is the running sum. Hold store against Postgres: each loaded mirror == Postgres balance
// minus the captures still queued for it. Also reported: open and expired holds, the settlement queue's
// depth and age, and this instance's journal of captures Postgres does not have yet.
import { Hono } from 'hono';
import { inArray } from 'drizzle-orm';
import { reconcileQuery } from '../../billing/ledger.js';
import { toTokens } from '../../billing/money.js';
import type { HoldStore } from '../../billing/holds/types.js';
import type { Db } from '../../db/client.js';
import { accounts } from '../../db/schema.js';
import type { AppEnv } from '../../http/context.js';

export const adminReconcile = new Hono<AppEnv>();

const CHUNK = 500;
/** A settlement between its Postgres commit and its ack looks like drift for a moment: look twice. */
const RECHECK_AFTER_MS = 300;

interface MirrorDrift {
  accountId: string;
  redisBalance: number;
  postgresBalance: number;
  queuedTokens: number;
  expectedRedisBalance: number;
  difference: number; // redisBalance - expectedRedisBalance
}

adminReconcile.get('/reconcile', async (c) => {
  const { database, db, holds } = c.get('deps');
  const rows = await database.rows<{ account_id: string; balance: string; ledger_sum: string; bad_running_rows: string }>(reconcileQuery);
  const mismatches = rows.map((r) => ({
    accountId: r.account_id,
    balance: toTokens(r.balance),
    ledgerSum: toTokens(r.ledger_sum),
    badRunningRows: Number(r.bad_running_rows),
  }));

  const all = (await db.select({ id: accounts.id }).from(accounts)).map((a) => a.id);
  const held = { openHolds: 0, expiredHolds: 0, heldTokens: 0 };
  let suspects: string[] = [];
  for (let i = 0; i < all.length; i += CHUNK) {
    const chunk = all.slice(i, i + CHUNK);
    const { drift, inspected } = await mirrorDrift(db, holds, chunk);
    suspects.push(...drift.map((d) => d.accountId));
    for (const view of inspected.values()) {
      held.openHolds += view.openHolds;
      held.expiredHolds += view.expiredHolds;
      held.heldTokens += view.heldTokens;
    }
  }
  let mirrors: MirrorDrift[] = [];
  if (suspects.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, RECHECK_AFTER_MS));
    mirrors = (await mirrorDrift(db, holds, suspects)).drift;
    suspects = [];
  }

  const stats = await holds.stats();
  const checkedAt = new Date();
  return c.json({
    ok: mismatches.length === 0 && mirrors.length === 0,
    mismatches,
    mirrors,
    holds: held,
    queue: {
      depth: stats.queuedSettlements,
      oldestAgeMs: stats.oldestQueuedAtMs === null ? null : Math.max(0, checkedAt.getTime() - stats.oldestQueuedAtMs),
    },
    journal: { uncommittedCaptures: stats.journaledCaptures ?? 0, owedMirrorResets: stats.owedMirrorResets ?? 0 },
    checkedAt: checkedAt.toISOString(),
  });
});

/** Accounts whose loaded mirror differs from Postgres minus their queued captures. */
async function mirrorDrift(db: Db, holds: HoldStore, accountIds: string[]) {
  // The store first, then Postgres: a settlement landing in between shows as drift and is rechecked.
  const inspected = await holds.inspect(accountIds);
  const balances = new Map(
    (await db.select({ id: accounts.id, balance: accounts.balance }).from(accounts).where(inArray(accounts.id, accountIds))).map((a) => [a.id, a.balance]),
  );
  const drift: MirrorDrift[] = [];
  for (const [accountId, view] of inspected) {
    const postgresBalance = balances.get(accountId);
    if (view.balanceTokens === null || postgresBalance === undefined) continue;
    const expectedRedisBalance = postgresBalance - view.pendingTokens;
    if (view.balanceTokens !== expectedRedisBalance) {
      drift.push({
        accountId,
        redisBalance: view.balanceTokens,
        postgresBalance,
        queuedTokens: view.pendingTokens,
        expectedRedisBalance,
        difference: view.balanceTokens - expectedRedisBalance,
      });
    }
  }
  return { drift, inspected };
}
