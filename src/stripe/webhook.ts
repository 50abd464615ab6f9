// Handling of a verified Stripe event: the event id goes into stripe_events in the same transaction as
// its effect, so a replay (sequential or concurrent: the second insert waits for the first commit)
// changes nothing. After the commit, balance mirrors reload and suspensions apply to cached keys.
import { eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import { ZodError } from 'zod';
import type { HoldStore } from '../billing/holds/types.js';
import type { Db } from '../db/client.js';
import { stripeEvents } from '../db/schema.js';
import type { KeyAuthenticator } from '../http/auth.js';
import type { Logger } from '../log.js';
import type { StripeClient } from './client.js';
import { Effect, lockPayment, type Plan } from './effect.js';
import { checkoutSessionPlan } from './purchases.js';
import { paymentIntentPlan } from './recharge-outcomes.js';
import { chargeRefundedPlan, disputePlan, refundPlan } from './reversal-events.js';

export interface WebhookDeps {
  db: Db;
  stripe: StripeClient | null;
  holds: HoldStore;
  authenticator: KeyAuthenticator;
  log: Logger;
  retrySeconds: number;
}

export type WebhookOutcome = 'processed' | 'replayed' | 'ignored';

type Planner = (deps: WebhookDeps, type: string, object: unknown) => Promise<Plan | null> | Plan | null;

const checkout: Planner = (deps, _type, object) => checkoutSessionPlan(deps.db, object);
const paymentIntent: Planner = (deps, type, object) => paymentIntentPlan(deps.db, type, object, deps.retrySeconds);
const dispute: Planner = (_deps, _type, object) => disputePlan(object);
const refund: Planner = (_deps, _type, object) => refundPlan(object);

/** The events tokengate acts on (the README lists them for the endpoint's subscription). */
export const HANDLED_EVENTS: Record<string, Planner> = {
  'checkout.session.completed': checkout,
  'checkout.session.async_payment_succeeded': checkout,
  'checkout.session.async_payment_failed': checkout,
  'payment_intent.succeeded': paymentIntent,
  'payment_intent.payment_failed': paymentIntent,
  'charge.refunded': (deps, _type, object) => chargeRefundedPlan(deps.stripe, object),
  'refund.created': refund,
  'refund.updated': refund,
  'refund.failed': refund,
  'charge.dispute.created': dispute,
  'charge.dispute.updated': dispute,
  'charge.dispute.closed': dispute,
};

export async function handleEvent(deps: WebhookDeps, event: Stripe.Event): Promise<WebhookOutcome> {
  const planner = HANDLED_EVENTS[event.type];
  if (!planner) return 'ignored';
  let plan: Plan | null;
  try {
    plan = await planner(deps, event.type, event.data.object);
  } catch (error) {
    // A signed event we cannot read will not read better when Stripe retries it: say so, answer 2xx.
    if (!(error instanceof ZodError)) throw error;
    deps.log.warn({ eventId: event.id, type: event.type, issue: error.issues[0]?.message, path: error.issues[0]?.path }, 'stripe event ignored: unexpected shape');
    return 'ignored';
  }
  if (!plan) {
    deps.log.info({ eventId: event.id, type: event.type }, 'stripe event ignored: not about a tokengate payment');
    return 'ignored';
  }

  const effect = new Effect();
  const replayedFor = await deps.db.transaction(async (tx) => {
    const inserted = await tx.insert(stripeEvents).values({ id: event.id, type: event.type }).onConflictDoNothing().returning({ id: stripeEvents.id });
    if (inserted.length === 0) {
      const [seen] = await tx.select({ accountId: stripeEvents.accountId }).from(stripeEvents).where(eq(stripeEvents.id, event.id));
      return { accountId: seen?.accountId ?? null };
    }
    if (plan.paymentIntentId) await lockPayment(tx, plan.paymentIntentId);
    await plan.apply(tx, effect);
    const accountId = effect.firstAccount;
    if (accountId) await tx.update(stripeEvents).set({ accountId }).where(eq(stripeEvents.id, event.id));
    return null;
  });

  if (replayedFor) {
    // The first delivery may have committed and then failed to reset the mirror: this repairs it.
    if (replayedFor.accountId) await deps.holds.invalidate(replayedFor.accountId);
    return 'replayed';
  }
  for (const accountId of effect.statuses) deps.authenticator.forget((key) => key.accountId === accountId);
  for (const accountId of effect.balances) await deps.holds.invalidate(accountId);
  if (effect.balances.size > 0 || effect.statuses.size > 0) {
    deps.log.info({ eventId: event.id, type: event.type, accounts: [...effect.balances], statusChanged: [...effect.statuses] }, 'stripe event applied');
  }
  return 'processed';
}
