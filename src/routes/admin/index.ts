// The admin routes (SPEC 4, "Admin"); who may call each is in the route catalog (src/routes/catalog.ts).
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { adminAccounts } from './accounts.js';
import { adminKeys } from './keys.js';
import { adminModels } from './models.js';
import { adminPackages } from './packages.js';
import { adminReconcile } from './reconcile.js';
import { adminSettings } from './settings.js';
import { adminReports } from './reports.js';

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.route('/', adminAccounts);
adminRoutes.route('/', adminKeys);
adminRoutes.route('/', adminReconcile);
adminRoutes.route('/', adminSettings);
adminRoutes.route('/', adminPackages);
adminRoutes.route('/', adminModels);
adminRoutes.route('/', adminReports);
