// Revenue per currency, from the ledger rows Stripe payments wrote (metadata.source = 'stripe' carries
// amountCents and currency). For GET /admin/stats/tokens; amounts are in each currency's smallest unit.
import { sql } from 'drizzle-orm';
import { resultRows, type Db } from '../db/client.js';

export interface CurrencyRevenue {
  currency: string;
  /** Paid purchases and auto-recharges. */
  payments: number;
  grossCents: number;
  /** Refunded (minus refunds that failed afterwards). */
  refundedCents: number;
  /** Held by open or lost disputes (won disputes come back). */
  disputedCents: number;
  netCents: number;
}

export interface RevenueRange {
  from?: Date; // inclusive, on the ledger row's created_at
  to?: Date; // exclusive
}

export async function revenueByCurrency(db: Db, range: RevenueRange = {}): Promise<CurrencyRevenue[]> {
  const cents = sql`(metadata->>'amountCents')::bigint`;
  const rows = await db.execute(sql`
    select metadata->>'currency' as currency,
      count(*) filter (where type in ('purchase', 'auto_recharge')) as payments,
      coalesce(sum(${cents}) filter (where type in ('purchase', 'auto_recharge')), 0) as gross,
      coalesce(sum(${cents}) filter (where type = 'refund'), 0)
        - coalesce(sum(${cents}) filter (where type = 'adjustment' and metadata->>'reason' = 'refund_failed'), 0) as refunded,
      coalesce(sum(${cents}) filter (where type = 'dispute'), 0)
        - coalesce(sum(${cents}) filter (where type = 'dispute_won'), 0) as disputed
    from ledger_entries
    where metadata->>'source' = 'stripe'
      and type in ('purchase', 'auto_recharge', 'refund', 'adjustment', 'dispute', 'dispute_won')
      ${range.from ? sql`and created_at >= ${range.from.toISOString()}` : sql``}
      ${range.to ? sql`and created_at < ${range.to.toISOString()}` : sql``}
    group by 1
    order by 1`);
  return resultRows<Record<'currency' | 'payments' | 'gross' | 'refunded' | 'disputed', string | number>>(rows).map((row) => {
    const gross = safeInteger(row.gross);
    const refunded = safeInteger(row.refunded);
    const disputed = safeInteger(row.disputed);
    return { currency: String(row.currency), payments: safeInteger(row.payments), grossCents: gross, refundedCents: refunded, disputedCents: disputed, netCents: gross - refunded - disputed };
  });
}

function safeInteger(value: string | number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`revenue sum out of range: ${value}`);
  return n;
}
