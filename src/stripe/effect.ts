// What a webhook's transaction changed, for the work that must follow its commit.
import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client.js';

export class Effect {
  /** Accounts whose Postgres balance changed: their Redis mirror must reload. */
  readonly balances = new Set<string>();
  /** Accounts suspended or reactivated: cached keys must be dropped. */
  readonly statuses = new Set<string>();

  get firstAccount(): string | undefined {
    return [...this.balances, ...this.statuses][0];
  }
}

/**
 * Serialises every event about one payment (its credit, refunds, disputes), whatever instance handles
 * it, so "is the purchase credited yet?" and "which reversals are pending?" are never answered by two
 * transactions that miss each other. Taken before any row lock: the order is payment, then account.
 */
export async function lockPayment(tx: Tx, paymentIntentId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(String(PAYMENT_LOCK_SPACE))}, hashtext(${paymentIntentId}))`);
}

const PAYMENT_LOCK_SPACE = 7411;

/** What one event will do, decided before its transaction (which may need Stripe API calls first). */
export interface Plan {
  /** The payment the event is about: its events are serialised (lockPayment). */
  paymentIntentId?: string;
  /** Runs inside the transaction that records the event id; must be safe to run once per event. */
  apply(tx: Tx, effect: Effect): Promise<void>;
}

/** A recognised event that changes nothing (e.g. an unpaid Checkout completion): recorded, no effect. */
export const NOTHING_TO_DO: Plan = { apply: async () => {} };
