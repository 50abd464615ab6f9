import { Hono } from 'hono';
import { requireKey } from '../../http/auth.js';
import type { AppEnv } from '../../http/context.js';
import { adminAccounts } from './accounts.js';
import { adminKeys } from './keys.js';
import { adminReconcile } from './reconcile.js';
import { adminReports } from './reports.js';

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use('*', requireKey('admin-or-auditor-read'));
adminRoutes.route('/', adminAccounts);
adminRoutes.route('/', adminKeys);
adminRoutes.route('/', adminReconcile);
adminRoutes.route('/', adminReports);
