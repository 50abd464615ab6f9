// The dashboard at /dashboard: server-rendered pages (hono/jsx) on a session opened with an API key.
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import { ApiError } from '../http/errors.js';
import { Document, NoticeBanner } from './layout.js';
import { overviewPage } from './pages/overview.js';
import { signInRoutes } from './pages/sign-in.js';
import { transactionsPage } from './pages/transactions.js';
import { usagePageRoutes } from './pages/usage.js';
import { buyPage } from './pages/buy.js';
import { keysPage } from './pages/keys.js';
import { autoRechargePage } from './pages/auto-recharge.js';
import { adminOverviewPage } from './pages/admin-overview.js';
import { adminAccountsPage } from './pages/admin-accounts.js';
import { adminSettingsPage } from './pages/admin-settings.js';
import { adminPackagesPage } from './pages/admin-packages.js';
import { requireSession, type UiEnv } from './session.js';

const asset = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
const CSS = asset('dashboard.css');
const JS = asset('dashboard.js');

// Pages only load what they ship with; forms post only to the gateway (then Checkout redirects onward).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

export const dashboardRoutes = new Hono<AppEnv>();

dashboardRoutes.use('*', async (c, next) => {
  await next();
  c.header('content-security-policy', CSP);
  c.header('x-frame-options', 'DENY');
  c.header('referrer-policy', 'same-origin');
  c.header('x-content-type-options', 'nosniff');
});

dashboardRoutes.get('/assets/dashboard.css', (c) => c.body(CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }));
dashboardRoutes.get('/assets/dashboard.js', (c) => c.body(JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' }));
dashboardRoutes.route('/', signInRoutes);

const pages = new Hono<UiEnv>();
pages.use('*', requireSession());
pages.route('/', overviewPage);
pages.route('/usage', usagePageRoutes);
pages.route('/transactions', transactionsPage);
pages.route('/buy', buyPage);
pages.route('/keys', keysPage);
pages.route('/auto-recharge', autoRechargePage);
pages.route('/admin', adminOverviewPage);
pages.route('/admin/accounts', adminAccountsPage);
pages.route('/admin/settings', adminSettingsPage);
pages.route('/admin/packages', adminPackagesPage);
dashboardRoutes.route('/', pages as unknown as Hono<AppEnv>);

// Errors on dashboard pages are pages, not JSON: the status stays, the message is the API's.
dashboardRoutes.onError((error, c) => {
  if (!(error instanceof ApiError)) throw error;
  return c.html(
    <Document title="Error">
      <main id="main">
        <h1>{error.status === 403 ? 'Not allowed' : error.status === 404 ? 'Not found' : 'Something is not right'}</h1>
        <NoticeBanner notice={{ kind: 'error', text: error.message }} />
        <p>
          <a href="/dashboard">Back to the dashboard</a>
        </p>
      </main>
    </Document>,
    error.status as 400,
  );
});
