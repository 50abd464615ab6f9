// Who may call a route. The route catalog (src/routes/catalog.ts) gives every registered route one of
// these levels; authorize() below is the one middleware that enforces them.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { KeyRole } from '../accounts/api-keys.js';
import type { AppEnv } from './context.js';
import { ApiError, forbidden, notFound } from './errors.js';

/**
 * - `public`: no key (probes, the API reference, the price list, Stripe's signed webhook).
 * - `billing-secret`: the `x-billing-secret` header instead of a key; the route is off without BILLING_SECRET.
 * - `user`: any `user` or `admin` key; the route acts on the key's own account.
 * - `admin-read`: `admin` or `auditor` keys (auditors read admin data, never change it).
 * - `admin`: `admin` keys only.
 */
export type Access = 'public' | 'billing-secret' | 'user' | 'admin-read' | 'admin';

/** The roles each key-based level admits: the roles table of the README, as code. */
export const ROLES_BY_ACCESS: Readonly<Record<Exclude<Access, 'public' | 'billing-secret'>, readonly KeyRole[]>> = {
  user: ['user', 'admin'],
  'admin-read': ['admin', 'auditor'],
  admin: ['admin'],
};

export interface AccessRule {
  method: string;
  /** The route pattern exactly as Hono registered it (`/admin/accounts/:id`). */
  path: string;
  access: Access;
}

/** The route pattern that serves this request (the last non-middleware match), or null for a 404. */
export function matchedRoutePath(c: Context): string | null {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!;
    if (route.method !== 'ALL') return route.path;
  }
  return null;
}

/**
 * Enforces the catalog for every request. A request no route serves passes on to the 404; a route
 * without a catalog entry is refused (fail closed: tests make sure there is none).
 */
export function authorize(rules: readonly AccessRule[]): MiddlewareHandler<AppEnv> {
  // path -> method -> access: two map lookups per request, nothing built per request.
  const byPath = new Map<string, Map<string, Access>>();
  for (const rule of rules) {
    const methods = byPath.get(rule.path) ?? new Map<string, Access>();
    methods.set(rule.method, rule.access);
    byPath.set(rule.path, methods);
  }
  return async (c, next) => {
    const path = matchedRoutePath(c);
    if (path === null) return next();
    // Hono answers HEAD with the GET handler: the GET rule applies.
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const access = byPath.get(path)?.get(method);
    if (access === undefined) throw forbidden(`The route ${method} ${path} has no access rule.`);
    if (access === 'public') return next();
    if (access === 'billing-secret') {
      checkBillingSecret(c);
      return next();
    }
    const auth = await c.get('deps').authenticator.authenticate(c.req.header('authorization'));
    const role = auth.key.role;
    if (!ROLES_BY_ACCESS[access].includes(role)) throw forbidden(refusal(access, role));
    c.set('auth', auth);
    return next();
  };
}

function refusal(access: Access, role: KeyRole): string {
  if (role === 'auditor') return access === 'admin' ? 'Auditor keys may only read.' : 'Auditor keys may only use admin read routes.';
  return 'This route needs an admin key.';
}

/** 401 for a missing or wrong secret: the caller failed to authenticate (there is no role to lack). */
function checkBillingSecret(c: Context<AppEnv>): void {
  const secret = c.get('deps').config.BILLING_SECRET;
  // Without BILLING_SECRET the route does not exist (404, as for any unknown route).
  if (!secret) throw notFound(`No route for ${c.req.method} ${c.req.path}.`);
  const given = c.req.header('x-billing-secret');
  if (given === undefined) throw new ApiError(401, 'invalid_billing_secret', 'Missing x-billing-secret header.', 'authentication_error');
  // Digests first: equal lengths for timingSafeEqual, and nothing about the secret's length leaks.
  const expected = createHash('sha256').update(secret).digest();
  const actual = createHash('sha256').update(given).digest();
  if (!timingSafeEqual(expected, actual)) throw new ApiError(401, 'invalid_billing_secret', 'Invalid x-billing-secret.', 'authentication_error');
}
