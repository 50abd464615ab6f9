// The parts of Stripe's event objects that tokengate reads, parsed with zod. Stripe adds fields freely
// and the payload follows the webhook endpoint's API version, so only stable fields are required.
import { z } from 'zod';

/** Keys of the metadata tokengate puts on Checkout Sessions and PaymentIntents. */
export const META = {
  kind: 'tokengate_kind', // 'checkout' | 'auto_recharge'
  account: 'tokengate_account_id',
  package: 'tokengate_package_id',
  tokens: 'tokengate_tokens',
  attempt: 'tokengate_attempt_id',
} as const;

// An expandable reference arrives as an id, or as the object when the endpoint expands it.
const ref = z.union([z.string(), z.object({ id: z.string() }).transform((o) => o.id)]);
const metadata = z.record(z.string(), z.string()).nullish().transform((m) => m ?? {});

export const checkoutSessionSchema = z.object({
  id: z.string(),
  object: z.literal('checkout.session'),
  mode: z.string(),
  payment_status: z.string(), // paid | unpaid | no_payment_required
  payment_intent: ref.nullish(),
  client_reference_id: z.string().nullish(),
  customer: ref.nullish(),
  amount_total: z.number().int().nullish(),
  currency: z.string().nullish(),
  metadata,
});
export type CheckoutSessionObject = z.infer<typeof checkoutSessionSchema>;

export const paymentIntentSchema = z.object({
  id: z.string(),
  object: z.literal('payment_intent'),
  amount: z.number().int(),
  amount_received: z.number().int().nullish(),
  currency: z.string(),
  status: z.string(),
  customer: ref.nullish(),
  metadata,
  last_payment_error: z
    .object({
      code: z.string().nullish(),
      decline_code: z.string().nullish(),
      message: z.string().nullish(),
      type: z.string().nullish(),
    })
    .nullish(),
});
export type PaymentIntentObject = z.infer<typeof paymentIntentSchema>;

export const refundSchema = z.object({
  id: z.string(),
  object: z.literal('refund'),
  amount: z.number().int().nonnegative(),
  currency: z.string(),
  status: z.string().nullish(), // pending | requires_action | succeeded | failed | canceled
  charge: ref.nullish(),
  payment_intent: ref.nullish(),
});
export type RefundObject = z.infer<typeof refundSchema>;

// Since API version 2022-11-15 a charge's `refunds` list is only there when expanded.
export const chargeSchema = z.object({
  id: z.string(),
  object: z.literal('charge'),
  amount: z.number().int(),
  amount_refunded: z.number().int(),
  currency: z.string(),
  payment_intent: ref.nullish(),
  refunds: z.object({ data: z.array(refundSchema), has_more: z.boolean() }).nullish(),
});
export type ChargeObject = z.infer<typeof chargeSchema>;

export const disputeSchema = z.object({
  id: z.string(),
  object: z.literal('dispute'),
  amount: z.number().int().nonnegative(),
  currency: z.string(),
  status: z.string(),
  charge: ref.nullish(),
  payment_intent: ref.nullish(),
});
export type DisputeObject = z.infer<typeof disputeSchema>;
