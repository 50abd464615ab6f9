// POST /stripe/webhook (signed events from Stripe), and the pages Checkout sends the buyer back to.
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { ApiError, badRequest } from '../../http/errors.js';
import { StripeErrors, verifyWebhookEvent } from '../../stripe/client.js';
import { handleEvent } from '../../stripe/webhook.js';

export const stripeRoutes = new Hono<AppEnv>();

stripeRoutes.post('/stripe/webhook', async (c) => {
  const deps = c.get('deps');
  const secret = deps.config.STRIPE_WEBHOOK_SECRET;
  // 503, not 404: Stripe keeps retrying a failed delivery for days, so events sent while the secret
  // is missing are not lost once it is set.
  if (!secret) throw new ApiError(503, 'stripe_not_configured', 'Stripe webhooks are not configured on this gateway (STRIPE_WEBHOOK_SECRET is unset).', 'api_error');
  const signature = c.req.header('stripe-signature');
  if (!signature) throw badRequest('Missing Stripe-Signature header.', null, 'invalid_signature');
  const rawBody = await c.req.text(); // the exact bytes Stripe signed
  let event;
  try {
    event = verifyWebhookEvent(rawBody, signature, secret);
  } catch (error) {
    if (error instanceof StripeErrors.StripeSignatureVerificationError) {
      throw badRequest('The Stripe-Signature header does not match this body and the webhook secret, or its timestamp is too old.', null, 'invalid_signature');
    }
    if (error instanceof SyntaxError) throw badRequest('The event body is not valid JSON.');
    throw error;
  }
  const outcome = await handleEvent(
    { db: deps.db, stripe: deps.stripe, holds: deps.holds, authenticator: deps.authenticator, log: deps.log, retrySeconds: deps.config.AUTO_RECHARGE_RETRY_SECONDS },
    event,
  );
  return c.json({ received: true, id: event.id, outcome });
});

// Where Checkout sends the buyer. The tokens arrive with the webhook, usually within seconds.
stripeRoutes.get('/checkout/success', (c) =>
  c.html(page('Payment received', 'Thank you. Your tokens are credited as soon as Stripe confirms the payment, usually within seconds; GET /account shows the balance.')),
);
stripeRoutes.get('/checkout/cancel', (c) => c.html(page('Payment canceled', 'Nothing was charged. You can start a new checkout at any time.')));

function page(title: string, text: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} - tokengate</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;
}
