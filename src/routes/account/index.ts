// The key's own account (SPEC section 4, "Account"): every query is scoped to the authenticated account.
import { Hono } from 'hono';
import { accountView, findAccount } from '../../accounts/accounts.js';
import { latestAlert, publicAlert } from '../../alerts/alerts.js';
import type { AppEnv } from '../../http/context.js';
import { notFound } from '../../http/errors.js';
import { accountKeys } from './keys.js';
import { accountCheckout } from './checkout.js';
import { accountSettings } from './settings.js';
import { transactionsResponse, usageListResponse, usageRecordResponse, usageSummaryResponse } from '../shared/usage.js';

export const accountRoutes = new Hono<AppEnv>();

accountRoutes.route('/', accountKeys);
accountRoutes.route('/', accountCheckout);
accountRoutes.route('/', accountSettings);

accountRoutes.get('/', async (c) => {
  const { db, holds, settings } = c.get('deps');
  const row = await findAccount(db, c.get('auth').accountId);
  if (!row) throw notFound('Account not found.');
  const [view, alert] = await Promise.all([accountView(row, holds, (await settings.get()).lowBalanceThreshold), latestAlert(db, row.id)]);
  return c.json({ ...view, lowBalanceAlert: alert ? publicAlert(alert) : null });
});

accountRoutes.get('/transactions', (c) => transactionsResponse(c, c.get('auth').accountId));

// /usage/summary before /usage/:requestId: the first matching handler answers.
accountRoutes.get('/usage', (c) => usageListResponse(c, c.get('auth').accountId));
accountRoutes.get('/usage/summary', (c) => usageSummaryResponse(c, c.get('auth').accountId));
accountRoutes.get('/usage/:requestId', (c) => usageRecordResponse(c, c.get('auth').accountId, c.req.param('requestId')));
