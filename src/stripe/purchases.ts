// Payments that buy tokens: a Checkout purchase or an auto-recharge. Tokens are credited from webhooks
// only, once per payment: the ledger reference is the PaymentIntent id (or the session id when a
// session had nothing to pay), so every event about one payment lands on the same (type, reference).
import { eq } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.js';
import { accounts } from '../db/schema.js';
import { postInTransaction } from '../billing/ledger.js';
import { NOTHING_TO_DO, type Effect, type Plan } from './effect.js';
import { checkoutSessionSchema, META } from './events.js';
import { applyReversals } from './reversals.js';

export interface PaymentCredit {
  accountId: string;
  type: 'purchase' | 'auto_recharge';
  reference: string;
  tokens: number;
  amountCents: number;
  currency: string;
  details: Record<string, unknown>;
}

/** Credits a payment (a replay changes nothing) and applies refunds or disputes that came first. */
export async function creditPayment(tx: Tx, credit: PaymentCredit, effect: Effect): Promise<void> {
  await postInTransaction(tx, {
    accountId: credit.accountId,
    type: credit.type,
    amount: credit.tokens,
    reference: credit.reference,
    metadata: { source: 'stripe', amountCents: credit.amountCents, currency: credit.currency, ...credit.details },
  });
  effect.balances.add(credit.accountId);
  await applyReversals(tx, credit.reference, effect);
}

/** checkout.session.completed / async_payment_succeeded / async_payment_failed. */
export async function checkoutSessionPlan(db: Db, object: unknown): Promise<Plan | null> {
  const session = checkoutSessionSchema.parse(object);
  if (session.mode !== 'payment') return null;
  const accountId = session.metadata[META.account] ?? session.client_reference_id;
  const tokens = Number(session.metadata[META.tokens]);
  // Sessions tokengate did not create (Payment Links, another deployment on the same Stripe account).
  if (!accountId || !Number.isSafeInteger(tokens) || tokens <= 0 || !(await accountExists(db, accountId))) return null;
  // `unpaid` is a delayed payment method still on its way: async_payment_succeeded credits it later.
  if (session.payment_status !== 'paid' && session.payment_status !== 'no_payment_required') return NOTHING_TO_DO;

  const reference = session.payment_intent ?? session.id;
  const credit: PaymentCredit = {
    accountId,
    type: 'purchase',
    reference,
    tokens,
    amountCents: session.amount_total ?? 0,
    currency: session.currency ?? 'usd',
    details: { packageId: session.metadata[META.package] ?? null, checkoutSessionId: session.id, paymentIntentId: session.payment_intent ?? null },
  };
  return { paymentIntentId: reference, apply: (tx, effect) => creditPayment(tx, credit, effect) };
}

export async function accountExists(db: Db, accountId: string): Promise<boolean> {
  const [row] = await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId));
  return row !== undefined;
}
