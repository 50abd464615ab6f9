// Low-balance alerts in Postgres: one row per crossing below the threshold. An account is "armed"
// when it has no alert yet, or when a credit posted after its latest alert lifted the balance back to
// the threshold (a grant, a purchase): so a burst of debits records one alert, and a top-up re-arms it.
import { and, desc, eq, gt, gte, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { balanceAlerts, ledgerEntries } from '../db/schema.js';
import { newId } from '../lib/ids.js';

export type AlertRow = typeof balanceAlerts.$inferSelect;

const ALERT_LOCK_CLASS = 727_100_004; // with the account's hash: one crossing check per account at a time

export interface Crossing {
  accountId: string;
  threshold: number;
  /** Reads the live balance; called under the account's lock, after the ledger position is taken. */
  view(): Promise<{ balanceTokens: number; heldTokens: number }>;
  webhook: boolean;
}

/** Records an alert if the account is below its threshold now and armed; returns it, or null. */
export async function recordCrossing(db: Db, crossing: Crossing): Promise<AlertRow | null> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${ALERT_LOCK_CLASS}, hashtext(${crossing.accountId}))`);
    const [position] = await tx
      .select({ id: sql<string | null>`max(${ledgerEntries.id})` })
      .from(ledgerEntries)
      .where(eq(ledgerEntries.accountId, crossing.accountId));
    const ledgerId = Number(position?.id ?? 0);
    // After the ledger position: a credit landing from now on has a later id and re-arms the next check.
    const { balanceTokens, heldTokens } = await crossing.view();
    const available = balanceTokens - heldTokens;
    if (available >= crossing.threshold) return null;

    const [latest] = await tx
      .select({ ledgerId: balanceAlerts.ledgerId })
      .from(balanceAlerts)
      .where(eq(balanceAlerts.accountId, crossing.accountId))
      .orderBy(desc(balanceAlerts.createdAt), desc(balanceAlerts.id))
      .limit(1);
    if (latest) {
      const [rearmed] = await tx
        .select({ id: ledgerEntries.id })
        .from(ledgerEntries)
        .where(
          and(
            eq(ledgerEntries.accountId, crossing.accountId),
            gt(ledgerEntries.id, latest.ledgerId),
            gt(ledgerEntries.amount, 0),
            gte(ledgerEntries.balanceAfter, crossing.threshold),
          ),
        )
        .limit(1);
      if (!rearmed) return null;
    }
    const [alert] = await tx
      .insert(balanceAlerts)
      .values({
        id: newId('alrt'),
        accountId: crossing.accountId,
        threshold: crossing.threshold,
        balance: balanceTokens,
        available,
        ledgerId,
        webhookStatus: crossing.webhook ? 'pending' : 'none',
      })
      .returning();
    return alert!;
  });
}

export async function latestAlert(db: Db, accountId: string): Promise<AlertRow | undefined> {
  const [row] = await db
    .select()
    .from(balanceAlerts)
    .where(eq(balanceAlerts.accountId, accountId))
    .orderBy(desc(balanceAlerts.createdAt), desc(balanceAlerts.id))
    .limit(1);
  return row;
}

export async function recordDelivery(
  db: Db,
  alertId: string,
  outcome: { status: 'pending' | 'delivered' | 'failed' | 'refused'; attempts: number; error: string | null },
): Promise<void> {
  await db
    .update(balanceAlerts)
    .set({
      webhookStatus: outcome.status,
      webhookAttempts: outcome.attempts,
      webhookError: outcome.error?.slice(0, 500) ?? null,
      deliveredAt: outcome.status === 'delivered' ? new Date() : null,
    })
    .where(eq(balanceAlerts.id, alertId));
}

/** What GET /account shows of the latest alert. */
export function publicAlert(row: AlertRow) {
  return {
    id: row.id,
    threshold: row.threshold,
    balance: row.balance,
    available: row.available,
    createdAt: row.createdAt.toISOString(),
    webhook: { status: row.webhookStatus, attempts: row.webhookAttempts, deliveredAt: row.deliveredAt?.toISOString() ?? null },
  };
}
