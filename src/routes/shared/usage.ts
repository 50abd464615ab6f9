// What GET /account/usage* and GET /admin/accounts/:id/usage* (and the transactions listings) share:
// the handlers run the reports module for the account id the route resolved, never another.
import type { Context } from 'hono';
import { parseQuery } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { notFound } from '../../http/errors.js';
import { listTransactions } from '../../reports/transactions.js';
import { findUsage, listUsage, summarizeUsage } from '../../reports/usage.js';
import { transactionsQuery, usageListQuery, usageSummaryQuery } from './report-query.js';

export async function usageListResponse(c: Context<AppEnv>, accountId: string): Promise<Response> {
  const { key, ...query } = parseQuery(c, usageListQuery);
  return c.json(await listUsage(c.get('deps').db, { ...query, keyId: key, accountId }));
}

export async function usageSummaryResponse(c: Context<AppEnv>, accountId: string): Promise<Response> {
  const { key, ...query } = parseQuery(c, usageSummaryQuery);
  const summary = await summarizeUsage(c.get('deps').db, { ...query, keyId: key, accountId });
  return c.json({ ...summary, from: query.from?.toISOString() ?? null, to: query.to?.toISOString() ?? null });
}

export async function usageRecordResponse(c: Context<AppEnv>, accountId: string, requestId: string): Promise<Response> {
  const record = await findUsage(c.get('deps').db, accountId, requestId);
  // Another account's request answers exactly like one that does not exist.
  if (!record) throw notFound(`No usage recorded for request '${requestId}' on this account (usage is written within a second or two of the answer).`);
  return c.json(record);
}

export async function transactionsResponse(c: Context<AppEnv>, accountId: string): Promise<Response> {
  const query = parseQuery(c, transactionsQuery);
  return c.json(await listTransactions(c.get('deps').db, { ...query, accountId }));
}
