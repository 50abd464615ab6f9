// The errors routes answer when Stripe is not configured or does not do what was asked.
import { ApiError } from '../../http/errors.js';
import { StripeErrors } from '../../stripe/client.js';

/** 503: payments are a configuration of this gateway, not something the caller can fix. */
export const stripeNotConfigured = () =>
  new ApiError(503, 'stripe_not_configured', 'Payments are not configured on this gateway (STRIPE_SECRET_KEY is unset).', 'api_error');

/** A Stripe API error as a 502. Credential errors are not echoed: Stripe's text quotes part of the key. */
export function fromStripeError(error: unknown): unknown {
  if (!(error instanceof StripeErrors.StripeError)) return error;
  const credentials = error instanceof StripeErrors.StripeAuthenticationError || error instanceof StripeErrors.StripePermissionError;
  const detail = credentials ? "Stripe refused this gateway's API key; an operator must fix STRIPE_SECRET_KEY." : error.message;
  return new ApiError(502, 'stripe_error', `Stripe could not complete the request: ${detail}`, 'upstream_error');
}
