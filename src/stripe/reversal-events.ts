// Plans for the events that report refunds and disputes: record what Stripe says, then apply it.
import type { StripeClient } from './client.js';
import type { Plan } from './effect.js';
import { chargeSchema, disputeSchema, refundSchema, type RefundObject } from './events.js';
import { applyReversals, recordReversal, type ReversalFact } from './reversals.js';

/**
 * charge.refunded carries the charge. Its `refunds` list is there only for endpoints on an API version
 * before 2022-11-15 or that expand it; otherwise the refunds are read from the API (one call).
 */
export async function chargeRefundedPlan(stripe: StripeClient | null, object: unknown): Promise<Plan | null> {
  const charge = chargeSchema.parse(object);
  if (!charge.payment_intent) return null;
  let refunds: RefundObject[];
  if (charge.refunds && !charge.refunds.has_more) {
    refunds = charge.refunds.data;
  } else {
    if (!stripe) throw new Error('charge.refunded without its refunds needs STRIPE_SECRET_KEY to list them');
    const listed = await stripe.refunds.list({ charge: charge.id, limit: 100 }).autoPagingToArray({ limit: 10_000 });
    refunds = listed.map((refund) => refundSchema.parse(refund));
  }
  const paymentIntentId = charge.payment_intent;
  return reversalPlan(paymentIntentId, refunds.map((refund) => refundFact(refund, paymentIntentId, charge.id)));
}

/** refund.created / refund.updated / refund.failed: one refund, whatever its charge's events say. */
export function refundPlan(object: unknown): Plan | null {
  const refund = refundSchema.parse(object);
  if (!refund.payment_intent) return null;
  return reversalPlan(refund.payment_intent, [refundFact(refund, refund.payment_intent, refund.charge ?? null)]);
}

/** charge.dispute.created / charge.dispute.closed (and .updated, which only advances the status). */
export function disputePlan(object: unknown): Plan | null {
  const dispute = disputeSchema.parse(object);
  if (!dispute.payment_intent) return null;
  return reversalPlan(dispute.payment_intent, [
    {
      id: dispute.id,
      kind: 'dispute',
      paymentIntentId: dispute.payment_intent,
      chargeId: dispute.charge ?? null,
      amountCents: dispute.amount,
      currency: dispute.currency,
      status: dispute.status,
    },
  ]);
}

function refundFact(refund: RefundObject, paymentIntentId: string, chargeId: string | null): ReversalFact {
  return {
    id: refund.id,
    kind: 'refund',
    paymentIntentId,
    chargeId,
    amountCents: refund.amount,
    currency: refund.currency,
    // A refund without a status is an old API version's: those were final when created.
    status: refund.status ?? 'succeeded',
  };
}

function reversalPlan(paymentIntentId: string, facts: ReversalFact[]): Plan {
  return {
    paymentIntentId,
    apply: async (tx, effect) => {
      for (const fact of facts) await recordReversal(tx, fact);
      await applyReversals(tx, paymentIntentId, effect);
    },
  };
}
