// The key's own account (SPEC section 4, "Account"): every query is scoped to the authenticated account.
import { and, desc, eq, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { accountView, findAccount } from '../../accounts/accounts.js';
import { latestAlert, publicAlert } from '../../alerts/alerts.js';
import { ledgerEntries, ledgerTypes } from '../../db/schema.js';
import { parseQuery } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { notFound } from '../../http/errors.js';
import { accountKeys } from './keys.js';
import { accountCheckout } from './checkout.js';
import { accountSettings } from './settings.js';
import { publicLedgerEntry } from './views.js';

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

export const transactionsQuery = z.object({
  type: z.enum(ledgerTypes).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.coerce.number().int().positive().optional(),
});

accountRoutes.get('/transactions', async (c) => {
  const { db } = c.get('deps');
  const query = parseQuery(c, transactionsQuery);
  const rows = await db
    .select()
    .from(ledgerEntries)
    .where(
      and(
        eq(ledgerEntries.accountId, c.get('auth').accountId),
        query.type ? eq(ledgerEntries.type, query.type) : undefined,
        query.cursor ? lt(ledgerEntries.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(ledgerEntries.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return c.json({ data: page.map(publicLedgerEntry), nextCursor: rows.length > query.limit ? String(page.at(-1)!.id) : null });
});
