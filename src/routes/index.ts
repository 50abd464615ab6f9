// Registers every route group on the app.
import type { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import { accountRoutes } from './account/index.js';
import { adminRoutes } from './admin/index.js';
import { internalRoutes } from './internal/index.js';
import { opsRoutes } from './ops/index.js';
import { packagesRoutes } from './packages/index.js';
import { stripeRoutes } from './stripe/index.js';
import { v1Routes } from './v1/index.js';
import { dashboardRoutes } from '../ui/index.js';

export function registerRoutes(app: Hono<AppEnv>): void {
  app.route('/', opsRoutes);
  app.route('/account', accountRoutes);
  app.route('/admin', adminRoutes);
  app.route('/internal', internalRoutes);
  app.route('/v1', v1Routes);
  app.route('/', packagesRoutes);
  app.route('/', stripeRoutes);
  // The web UI, with its own session auth (src/ui/); the bare address leads there.
  app.get('/', (c) => c.redirect('/dashboard', 302));
  app.route('/dashboard', dashboardRoutes);
}
