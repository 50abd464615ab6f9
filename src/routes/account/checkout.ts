// POST /account/checkout {packageId} -> {id, url}: a Stripe Checkout Session for one package.
import { Hono } from 'hono';
import { z } from 'zod';
import { findAccount } from '../../accounts/accounts.js';
import { parseBody } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { badRequest, notFound } from '../../http/errors.js';
import { createCheckoutSession } from '../../stripe/checkout.js';
import { findActivePackage } from '../../stripe/packages.js';
import { fromStripeError, stripeNotConfigured } from '../stripe/errors.js';

export const accountCheckout = new Hono<AppEnv>();

export const checkoutSchema = z.object({ packageId: z.string().trim().min(1).max(200) });

accountCheckout.post('/checkout', async (c) => {
  const { db, stripe, config } = c.get('deps');
  if (!stripe) throw stripeNotConfigured();
  const input = await parseBody(c, checkoutSchema);
  const pkg = await findActivePackage(db, input.packageId);
  if (!pkg) throw badRequest(`Invalid 'packageId': no active package '${input.packageId}'; GET /packages lists them.`, 'packageId', 'package_not_found');
  const account = await findAccount(db, c.get('auth').accountId);
  if (!account) throw notFound('Account not found.');
  try {
    return c.json(await createCheckoutSession(db, stripe, config.PUBLIC_URL, account, pkg), 201);
  } catch (error) {
    throw fromStripeError(error);
  }
});
