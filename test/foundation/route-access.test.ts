// Every route the app registers has one row in the route catalog, and the row is what the server
// enforces: each route is called with no key, a user, an auditor and an admin key (and the billing
// secret), and answers 401/403 exactly when the catalog says that caller may not pass.
import { beforeAll, describe, expect, it } from 'vitest';
import { ROLES_BY_ACCESS, type Access } from '../../src/http/access.js';
import { ROUTES } from '../../src/routes/catalog.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';

const BILLING_SECRET = 'route-access-test-billing-secret';
const env = useTestGateway({ env: { BILLING_SECRET } });

type Caller = 'none' | 'user' | 'auditor' | 'admin' | 'billing-secret';
const CALLERS: Caller[] = ['none', 'user', 'auditor', 'admin', 'billing-secret'];

/** Whether the catalog lets this caller through (authentication and role), whatever the handler says next. */
function admitted(access: Access, caller: Caller): boolean {
  if (access === 'public') return true;
  if (access === 'billing-secret') return caller === 'billing-secret';
  return caller !== 'none' && caller !== 'billing-secret' && (ROLES_BY_ACCESS[access] as readonly string[]).includes(caller);
}

/** The registered routes: what Hono will serve, not what anyone meant to register. */
function registeredRoutes(): Array<{ method: string; path: string }> {
  const seen = new Set<string>();
  const routes: Array<{ method: string; path: string }> = [];
  for (const route of env.gw.gateway.app.routes) {
    if (route.method === 'ALL') continue; // middleware
    const id = `${route.method} ${route.path}`;
    if (!seen.has(id)) routes.push({ method: route.method, path: route.path });
    seen.add(id);
  }
  return routes;
}

/** A concrete URL for a pattern: parameters get ids that exist nowhere. */
const concrete = (path: string) => path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, 'no_such_$1');

let keys: Record<'user' | 'auditor' | 'admin', string>;

beforeAll(async () => {
  const account = await accountWithBalance(env.gw, 1_000_000);
  keys = { user: await keyFor(env.gw, account, 'user'), auditor: await keyFor(env.gw, account, 'auditor'), admin: await keyFor(env.gw, account, 'admin') };
});

describe('route catalog', () => {
  it('has exactly one row for every registered route, and no row for a route that is not registered', () => {
    const registered = registeredRoutes().map((r) => `${r.method} ${r.path}`);
    const catalog = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(registered.length).toBeGreaterThan(30);
    expect(new Set(catalog).size).toBe(catalog.length);
    expect(registered.filter((id) => !catalog.includes(id)), 'registered routes without a catalog row').toEqual([]);
    expect(catalog.filter((id) => !registered.includes(id)), 'catalog rows without a registered route').toEqual([]);
  });

  it('follows the policy: admin reads admin-read, admin writes admin, /v1 and /account user, a short known list public', () => {
    const expected = (method: string, path: string): Access => {
      if (path.startsWith('/admin/')) return method === 'GET' ? 'admin-read' : 'admin';
      if (path.startsWith('/v1/') || path === '/account' || path.startsWith('/account/')) return 'user';
      if (path.startsWith('/internal/')) return 'billing-secret';
      if (path === '/metrics') return 'admin-read';
      if (['/healthz', '/readyz', '/openapi.json', '/docs', '/packages', '/stripe/webhook', '/checkout/success', '/checkout/cancel'].includes(path)) return 'public';
      return 'admin'; // anything else must be decided on purpose
    };
    const wrong = ROUTES.filter((r) => r.access !== expected(r.method, r.path)).map((r) => `${r.method} ${r.path}: ${r.access}`);
    expect(wrong).toEqual([]);
  });

  it('every registered route, called by every kind of caller, answers 401/403 exactly when the catalog refuses that caller', async () => {
    const mismatches: string[] = [];
    for (const { method, path } of registeredRoutes()) {
      const spec = ROUTES.find((r) => r.method === method && r.path === path)!;
      for (const caller of CALLERS) {
        const headers: Record<string, string> = {};
        if (caller === 'billing-secret') headers['x-billing-secret'] = BILLING_SECRET;
        else if (caller !== 'none') headers.authorization = `Bearer ${keys[caller]}`;
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        const response = await env.gw.request(method, concrete(path), { headers, body });
        const refused = response.status === 401 || response.status === 403;
        if (refused === admitted(spec.access, caller)) {
          mismatches.push(`${method} ${path} as ${caller}: ${response.status} ${JSON.stringify(response.body).slice(0, 160)}`);
        }
        if (refused) {
          // Refusals speak OpenAI's error shape and say which kind they are.
          expect(response.body.error.type).toBe(response.status === 401 ? 'authentication_error' : 'permission_error');
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('HEAD follows the rule of GET', async () => {
    expect((await env.gw.request('HEAD', '/healthz')).status).toBe(200);
    expect((await env.gw.request('HEAD', '/admin/settings')).status).toBe(401);
    expect((await env.gw.request('HEAD', '/admin/settings', { key: keys.user })).status).toBe(403);
    expect((await env.gw.request('HEAD', '/admin/settings', { key: keys.auditor })).status).toBe(200);
  });

  it('a route left out of the catalog is refused, not served (fail closed)', async () => {
    // The app is built once: drop a row from a copy and check the middleware built from it.
    const { authorize } = await import('../../src/http/access.js');
    const { Hono } = await import('hono');
    const app = new Hono();
    app.use('*', authorize(ROUTES.filter((r) => r.path !== '/healthz')));
    app.onError((error, c) => c.json({ message: error.message }, (error as { status?: 403 }).status ?? 500));
    app.get('/healthz', (c) => c.text('served'));
    const response = await app.request('/healthz');
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('has no access rule');
  });
});
