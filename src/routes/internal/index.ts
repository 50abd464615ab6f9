// Routes for the operator's own services, guarded by BILLING_SECRET instead of an API key. Without
// BILLING_SECRET they do not exist (404, as for any unknown route).
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { ApiError, notFound } from '../../http/errors.js';
import { internalUsage } from './usage.js';

export const internalRoutes = new Hono<AppEnv>();

/** 401 for a missing or wrong secret: the caller failed to authenticate (there is no role to lack). */
function requireBillingSecret(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const secret = c.get('deps').config.BILLING_SECRET;
    if (!secret) throw notFound(`No route for ${c.req.method} ${c.req.path}.`);
    const given = c.req.header('x-billing-secret');
    if (given === undefined) throw new ApiError(401, 'invalid_billing_secret', 'Missing x-billing-secret header.', 'authentication_error');
    // Digests first: equal lengths for timingSafeEqual, and nothing about the secret's length leaks.
    const expected = createHash('sha256').update(secret).digest();
    const actual = createHash('sha256').update(given).digest();
    if (!timingSafeEqual(expected, actual)) throw new ApiError(401, 'invalid_billing_secret', 'Invalid x-billing-secret.', 'authentication_error');
    await next();
  };
}

internalRoutes.use('*', requireBillingSecret());
internalRoutes.route('/', internalUsage);
