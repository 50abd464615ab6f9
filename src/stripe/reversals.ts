// Refunds and disputes: money that goes back to the customer takes its tokens back out of the account.
//
// Stripe's events arrive in any order and any number of times, so each refund or dispute is first
// recorded as a fact (stripe_reversals), then applyReversals() brings the ledger in line with the facts
// of one payment: it takes back what is refunded or disputed, gives back a won dispute or a failed
// refund, and does nothing while the purchase itself is not credited yet (it runs again when it is).
// Every ledger row has the refund or dispute id as its reference, so nothing moves twice.
import { and, asc, eq, inArray, isNotNull, ne, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.js';
import { accounts, ledgerEntries, stripeReversals } from '../db/schema.js';
import { postInTransaction, type LedgerEntry } from '../billing/ledger.js';
import type { Effect } from './effect.js';

export interface ReversalFact {
  id: string;
  kind: 'refund' | 'dispute';
  paymentIntentId: string;
  chargeId: string | null;
  amountCents: number;
  currency: string;
  status: string;
}

type ReversalRow = typeof stripeReversals.$inferSelect;

// A refund that is pending or succeeded is money leaving; a failed or canceled one never left.
const REFUND_UNDONE = new Set(['failed', 'canceled']);
const REFUND_DONE = new Set(['pending', 'succeeded']);
// Disputes that end in our favour; every other status (open, or lost) means the money is withheld.
const DISPUTE_FOR_US = new Set(['won', 'warning_closed', 'prevented']);
const DISPUTE_CLOSED = new Set([...DISPUTE_FOR_US, 'lost']);

/** Later statuses win over earlier ones, whatever order the events came in. */
function rank(kind: ReversalFact['kind'], status: string): number {
  if (kind === 'refund') return REFUND_UNDONE.has(status) ? 2 : status === 'succeeded' ? 1 : 0;
  return DISPUTE_CLOSED.has(status) ? 1 : 0;
}

/** Records (or advances) what Stripe said about a refund or dispute. Caller holds the payment lock. */
export async function recordReversal(tx: Tx, fact: ReversalFact): Promise<void> {
  const [existing] = await tx.select().from(stripeReversals).where(eq(stripeReversals.id, fact.id));
  if (!existing) {
    await tx.insert(stripeReversals).values(fact);
    return;
  }
  if (rank(fact.kind, fact.status) > rank(existing.kind, existing.status)) {
    await tx.update(stripeReversals).set({ status: fact.status, updatedAt: new Date() }).where(eq(stripeReversals.id, fact.id));
  }
}

/** The credit a payment bought (Checkout purchase or auto-recharge), if it is in the ledger yet. */
export async function findPaymentCredit(tx: Tx, paymentIntentId: string): Promise<LedgerEntry | undefined> {
  const [entry] = await tx
    .select()
    .from(ledgerEntries)
    .where(and(inArray(ledgerEntries.type, ['purchase', 'auto_recharge']), eq(ledgerEntries.reference, paymentIntentId)));
  return entry;
}

/** Brings the ledger in line with the recorded refunds and disputes of one payment. Caller holds its lock. */
export async function applyReversals(tx: Tx, paymentIntentId: string, effect: Effect): Promise<void> {
  const credit = await findPaymentCredit(tx, paymentIntentId);
  if (!credit) return; // applied when the purchase is credited
  const rows = await tx
    .select()
    .from(stripeReversals)
    .where(eq(stripeReversals.paymentIntentId, paymentIntentId))
    .orderBy(asc(stripeReversals.createdAt), asc(stripeReversals.id));
  const paidCents = Number((credit.metadata as { amountCents?: unknown }).amountCents ?? 0);
  let taken = rows.reduce((sum, r) => sum + (r.tokens !== null && !r.restored ? r.tokens : 0), 0);

  for (const row of rows) {
    const forUs = row.kind === 'refund' ? REFUND_UNDONE.has(row.status) : DISPUTE_FOR_US.has(row.status);
    const against = row.kind === 'refund' ? REFUND_DONE.has(row.status) : !forUs;
    if (row.tokens === null && against) {
      const tokens = Math.min(proportion(credit.amount, row.amountCents, paidCents), credit.amount - taken);
      await takeBack(tx, credit, row, Math.max(tokens, 0), effect);
      taken += Math.max(tokens, 0);
    } else if (row.tokens !== null && !row.restored && forUs) {
      await giveBack(tx, credit, row, effect);
      taken -= row.tokens;
    }
  }
}

/** Tokens bought for `paidCents` that `cents` of it is worth, rounded up (at most one token's worth). */
export function proportion(tokens: number, cents: number, paidCents: number): number {
  if (paidCents <= 0 || cents >= paidCents) return tokens;
  const numerator = BigInt(tokens) * BigInt(cents);
  const denominator = BigInt(paidCents);
  return Number((numerator + denominator - 1n) / denominator);
}

async function takeBack(tx: Tx, credit: LedgerEntry, row: ReversalRow, tokens: number, effect: Effect): Promise<void> {
  if (tokens > 0) {
    await postInTransaction(tx, {
      accountId: credit.accountId,
      type: row.kind === 'refund' ? 'refund' : 'dispute',
      amount: -tokens,
      reference: row.id,
      metadata: stripeMetadata(row),
      // Money already spent cannot be refused: the balance goes negative and holds stop until it is positive.
      allowNegative: true,
    });
    effect.balances.add(credit.accountId);
  }
  const suspended = row.kind === 'dispute' ? await suspendForDispute(tx, credit.accountId, row.id, effect) : false;
  await tx
    .update(stripeReversals)
    .set({ tokens, accountId: credit.accountId, suspendedAccount: suspended, updatedAt: new Date() })
    .where(eq(stripeReversals.id, row.id));
}

async function giveBack(tx: Tx, credit: LedgerEntry, row: ReversalRow, effect: Effect): Promise<void> {
  const tokens = row.tokens ?? 0;
  if (tokens > 0) {
    await postInTransaction(tx, {
      accountId: credit.accountId,
      type: row.kind === 'refund' ? 'adjustment' : 'dispute_won',
      amount: tokens,
      reference: row.kind === 'refund' ? `refund_failed:${row.id}` : row.id,
      metadata: { ...stripeMetadata(row), ...(row.kind === 'refund' && { reason: 'refund_failed' }) },
    });
    effect.balances.add(credit.accountId);
  }
  await tx.update(stripeReversals).set({ restored: true, updatedAt: new Date() }).where(eq(stripeReversals.id, row.id));
  if (row.kind === 'dispute' && row.suspendedAccount) await reactivateAfterDispute(tx, credit.accountId, row.id, effect);
}

/**
 * A dispute suspends the account. Returns whether this dispute is (one of) the reason(s) it is
 * suspended: true when it suspended an active account or joins another dispute's suspension; false
 * when an admin had suspended it, so a won dispute never lifts an admin's decision.
 */
async function suspendForDispute(tx: Tx, accountId: string, disputeId: string, effect: Effect): Promise<boolean> {
  const [account] = await tx.select({ status: accounts.status }).from(accounts).where(eq(accounts.id, accountId)).for('update');
  if (account?.status === 'active') {
    await tx.update(accounts).set({ status: 'suspended' }).where(eq(accounts.id, accountId));
    effect.statuses.add(accountId);
    return true;
  }
  return (await openDisputeSuspensions(tx, accountId, disputeId)) > 0;
}

/** The last dispute that held the account suspended is won: the account is active again. */
async function reactivateAfterDispute(tx: Tx, accountId: string, disputeId: string, effect: Effect): Promise<void> {
  if ((await openDisputeSuspensions(tx, accountId, disputeId)) > 0) return; // another open or lost dispute
  const [account] = await tx.select({ status: accounts.status }).from(accounts).where(eq(accounts.id, accountId)).for('update');
  if (account?.status !== 'suspended') return;
  await tx.update(accounts).set({ status: 'active' }).where(eq(accounts.id, accountId));
  effect.statuses.add(accountId);
}

/** Other disputes of the account whose tokens are still withheld (open or lost) and that suspended it. */
async function openDisputeSuspensions(tx: Tx, accountId: string, exceptId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(stripeReversals)
    .where(
      and(
        eq(stripeReversals.kind, 'dispute'),
        eq(stripeReversals.accountId, accountId),
        ne(stripeReversals.id, exceptId),
        isNotNull(stripeReversals.tokens),
        eq(stripeReversals.restored, false),
        eq(stripeReversals.suspendedAccount, true),
      ),
    );
  return row?.n ?? 0;
}

function stripeMetadata(row: ReversalRow): Record<string, unknown> {
  return {
    source: 'stripe',
    paymentIntentId: row.paymentIntentId,
    chargeId: row.chargeId,
    amountCents: row.amountCents,
    currency: row.currency,
    status: row.status,
  };
}
