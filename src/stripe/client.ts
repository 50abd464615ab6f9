// The Stripe API client, built once at start from the configuration (null when Stripe is not configured).
import Stripe from 'stripe';
import type { Config } from '../config.js';

export type StripeClient = Stripe;

/** Stripe's own timeout is 80 s; a user waiting for a Checkout link should hear back sooner. */
const REQUEST_TIMEOUT_MS = 20_000;

export function createStripeClient(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE'>): StripeClient | null {
  if (!config.STRIPE_SECRET_KEY) return null;
  const base = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : undefined;
  return new Stripe(config.STRIPE_SECRET_KEY, {
    timeout: REQUEST_TIMEOUT_MS,
    // POSTs carry our own idempotency keys; the client's one retry is safe with them.
    maxNetworkRetries: 1,
    telemetry: false,
    appInfo: { name: 'tokengate' },
    ...(base && {
      host: base.hostname,
      port: base.port || (base.protocol === 'https:' ? 443 : 80),
      protocol: base.protocol === 'https:' ? 'https' : 'http',
    }),
  });
}

/** Verifies the Stripe-Signature header on the raw body and parses the event; throws when it fails. */
export function verifyWebhookEvent(rawBody: string, signature: string, secret: string): Stripe.Event {
  return Stripe.webhooks.constructEvent(rawBody, signature, secret);
}

export const StripeErrors = Stripe.errors;
