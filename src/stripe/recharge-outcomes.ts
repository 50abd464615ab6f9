// How an auto-recharge attempt ends: payment_intent.succeeded credits it (and only that does);
// a decline or an authentication request counts as a failure, backs off, and three in a row turn
// auto-recharge off. A failure may be reported twice (Stripe's API answer and the webhook): only the
// first one counts, because an attempt leaves `pending` once.
import { and, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.js';
import { accounts, autoRechargeAttempts, type AutoRechargeError } from '../db/schema.js';
import type { Effect, Plan } from './effect.js';
import { META, paymentIntentSchema, type PaymentIntentObject } from './events.js';
import { accountExists, creditPayment } from './purchases.js';

/** Failures in a row after which auto-recharge turns itself off. */
export const MAX_RECHARGE_FAILURES = 3;

export type RechargeFailure = Omit<AutoRechargeError, 'at'>;

/** payment_intent.succeeded / payment_intent.payment_failed of an auto-recharge PaymentIntent. */
export async function paymentIntentPlan(db: Db, eventType: string, object: unknown, retrySeconds: number): Promise<Plan | null> {
  const intent = paymentIntentSchema.parse(object);
  // Checkout's own PaymentIntents are credited from the checkout.session events.
  if (intent.metadata[META.kind] !== 'auto_recharge') return null;
  const accountId = intent.metadata[META.account];
  const attemptId = intent.metadata[META.attempt];
  if (!accountId || !attemptId || !(await accountExists(db, accountId))) return null;
  if (eventType === 'payment_intent.succeeded') {
    return { paymentIntentId: intent.id, apply: (tx, effect) => rechargeSucceeded(tx, intent, accountId, attemptId, effect) };
  }
  return {
    paymentIntentId: intent.id,
    apply: async (tx) => {
      await recordRechargeFailure(tx, attemptId, failureOf(intent), retrySeconds);
    },
  };
}

async function rechargeSucceeded(tx: Tx, intent: PaymentIntentObject, accountId: string, attemptId: string, effect: Effect): Promise<void> {
  // Also when the attempt was marked failed (an API error whose payment went through after all):
  // the money arrived, so the tokens are owed.
  const [attempt] = await tx
    .update(autoRechargeAttempts)
    .set({ status: 'succeeded', paymentIntentId: intent.id, updatedAt: new Date() })
    .where(and(eq(autoRechargeAttempts.id, attemptId), eq(autoRechargeAttempts.accountId, accountId)))
    .returning();
  const tokens = attempt?.tokens ?? Number(intent.metadata[META.tokens]);
  if (!Number.isSafeInteger(tokens) || tokens <= 0) throw new Error(`auto-recharge ${intent.id} names no token amount`);
  await tx
    .update(accounts)
    .set({ autoRechargeFailures: 0, autoRechargeLastError: null, autoRechargeRetryAt: null })
    .where(eq(accounts.id, accountId));
  await creditPayment(
    tx,
    {
      accountId,
      type: 'auto_recharge',
      reference: intent.id,
      tokens,
      amountCents: intent.amount_received || intent.amount,
      currency: intent.currency,
      details: { packageId: attempt?.packageId ?? intent.metadata[META.package] ?? null, attemptId, paymentIntentId: intent.id },
    },
    effect,
  );
}

function failureOf(intent: PaymentIntentObject): RechargeFailure {
  const error = intent.last_payment_error;
  return {
    code: error?.code ?? error?.type ?? 'payment_failed',
    declineCode: error?.decline_code ?? null,
    message: error?.message ?? 'The payment failed.',
    paymentIntentId: intent.id,
  };
}

/** Ends a pending attempt as failed and counts it; a second report of the same failure changes nothing. */
export async function recordRechargeFailure(executor: Db | Tx, attemptId: string, failure: RechargeFailure, retrySeconds: number): Promise<boolean> {
  const [attempt] = await executor
    .update(autoRechargeAttempts)
    .set({
      status: 'failed',
      errorCode: failure.code,
      errorMessage: failure.message,
      paymentIntentId: failure.paymentIntentId ?? undefined,
      updatedAt: new Date(),
    })
    .where(and(eq(autoRechargeAttempts.id, attemptId), eq(autoRechargeAttempts.status, 'pending')))
    .returning({ accountId: autoRechargeAttempts.accountId });
  if (!attempt) return false;
  await countFailure(executor, attempt.accountId, failure, retrySeconds);
  return true;
}

/** One more failure in a row: remember it, wait retrySeconds * 2^(n-1) before the next try, stop at the limit. */
export async function countFailure(executor: Db | Tx, accountId: string, failure: RechargeFailure, retrySeconds: number): Promise<void> {
  const lastError: AutoRechargeError = { ...failure, at: new Date().toISOString() };
  await executor
    .update(accounts)
    .set({
      autoRechargeFailures: sql`${accounts.autoRechargeFailures} + 1`,
      autoRechargeLastError: lastError,
      autoRechargeRetryAt: sql`now() + make_interval(secs => ${retrySeconds}::double precision * power(2, ${accounts.autoRechargeFailures}))`,
      autoRechargeEnabled: sql`${accounts.autoRechargeEnabled} and ${accounts.autoRechargeFailures} + 1 < ${MAX_RECHARGE_FAILURES}`,
    })
    .where(eq(accounts.id, accountId));
}
