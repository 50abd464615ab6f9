// Admin reads of one account's ledger and usage, and gateway-wide stats (SPEC 4, "Admin"). Auditors
// may call every route here: they are all GETs ('admin-read' rows in src/routes/catalog.ts).
import { Hono, type Context } from 'hono';
import { parseQuery } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { modelStats, operationStats, tokenStats } from '../../reports/stats.js';
import { rangeQuery } from '../shared/report-query.js';
import { transactionsResponse, usageListResponse, usageRecordResponse, usageSummaryResponse } from '../shared/usage.js';
import { requireAccount } from './accounts.js';

export const adminReports = new Hono<AppEnv>();

/** The account named in the path, or 404: its listings are then scoped to that id only. */
async function accountIdOf(c: Context<AppEnv>): Promise<string> {
  return (await requireAccount(c.get('deps').db, c.req.param('id') ?? '')).id;
}

adminReports.get('/accounts/:id/transactions', async (c) => transactionsResponse(c, await accountIdOf(c)));
adminReports.get('/accounts/:id/usage', async (c) => usageListResponse(c, await accountIdOf(c)));
adminReports.get('/accounts/:id/usage/summary', async (c) => usageSummaryResponse(c, await accountIdOf(c)));
adminReports.get('/accounts/:id/usage/:requestId', async (c) => usageRecordResponse(c, await accountIdOf(c), c.req.param('requestId')));

adminReports.get('/stats/tokens', async (c) => c.json(await tokenStats(c.get('deps').db, parseQuery(c, rangeQuery))));
adminReports.get('/stats/models', async (c) => c.json(await modelStats(c.get('deps').db, parseQuery(c, rangeQuery))));
adminReports.get('/stats/operations', async (c) => c.json(await operationStats(c.get('deps').db, parseQuery(c, rangeQuery))));
