// System totals for the admin overview: one aggregate over the ledger, one over the accounts.
import { sql } from 'drizzle-orm';
import { resultRows, type Db } from '../db/client.js';

export interface TokenTotals {
  /** Bought through Checkout and auto-recharge (before refunds). */
  sold: number;
  /** Admin grants (opening balances included) less admin deductions. */
  granted: number;
  /** Spent on requests. */
  used: number;
  /** Refunds, disputes and adjustments, net (negative when tokens were taken back). */
  reversed: number;
  /** What accounts hold now: sum of balances. */
  outstanding: number;
  accounts: number;
}

// Usage rows are nearly all of the ledger: the other types are summed through the (type, reference)
// index, and what was used follows from the invariant balance == sum(ledger) (SPEC 2.2, checked by
// GET /admin/reconcile): used = -(sum of usage rows) = (sum of the other rows) - (sum of balances).
const NOT_USAGE = ['purchase', 'auto_recharge', 'grant', 'deduction', 'refund', 'dispute', 'dispute_won', 'adjustment'];

export async function tokenTotals(db: Db): Promise<TokenTotals> {
  const [byType, balances] = await Promise.all([
    db.execute(sql`select type, coalesce(sum(amount), 0) as amount from ledger_entries where type in (${sql.join(NOT_USAGE.map((t) => sql`${t}`), sql`, `)}) group by type`),
    db.execute(sql`select coalesce(sum(balance), 0) as outstanding, count(*) as accounts from accounts`),
  ]);
  const sums = new Map(resultRows<{ type: string; amount: string | number }>(byType).map((r) => [r.type, Number(r.amount)]));
  const of = (...types: string[]) => types.reduce((total, t) => total + (sums.get(t) ?? 0), 0);
  const [b] = resultRows<{ outstanding: string | number; accounts: string | number }>(balances);
  const outstanding = Number(b?.outstanding ?? 0);
  return {
    sold: of('purchase', 'auto_recharge'),
    granted: of('grant', 'deduction'),
    used: of(...NOT_USAGE) - outstanding,
    reversed: of('refund', 'dispute', 'dispute_won', 'adjustment'),
    outstanding,
    accounts: Number(b?.accounts ?? 0),
  };
}
