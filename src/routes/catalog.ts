// The route catalog: every route the app registers, with who may call it and what it takes. The one
// table behind access control (src/http/access.ts) and /openapi.json (src/openapi/document.ts); a test
// walks the app's registered routes and fails on any route missing here. Adding a route = one row.
import type { z } from 'zod';
import type { Access } from '../http/access.js';
import { chatBodySchema } from '../proxy/chat-request.js';
import { embeddingsRequestSchema } from '../proxy/embeddings.js';
import { imageRequestSchema } from '../proxy/image-request.js';
import { responsesRequestSchema } from '../proxy/responses-request.js';
import { checkoutSchema } from './account/checkout.js';
import { settingsPatch as accountSettingsPatch } from './account/settings.js';
import { createPackageSchema, updatePackageSchema } from './admin/packages.js';
import { createAccountSchema, grantSchema, listAccountsSchema, updateAccountSchema } from './admin/schemas.js';
import { settingsPatchSchema } from './admin/settings.js';
import { internalUsageSchema } from './internal/usage.js';
import { createAdminKeySchema, createOwnKeySchema, listKeysSchema } from './shared/api-keys.js';
import { rangeQuery, transactionsQuery, usageListQuery, usageSummaryQuery } from './shared/report-query.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  method: Method;
  /** The pattern as registered in Hono (`/admin/accounts/:id`, `/v1/models/:id{.+}`). */
  path: string;
  access: Access;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** The success status, when it is not 200. */
  status?: number;
  /** What a successful call answers with, when it is not JSON. */
  produces?: 'text/html' | 'text/plain' | 'text/event-stream or application/json';
}

const route = (method: Method, path: string, access: Access, summary: string, extra: Omit<RouteSpec, 'method' | 'path' | 'access' | 'summary'> = {}): RouteSpec => ({
  method,
  path,
  access,
  summary,
  ...extra,
});

export const ROUTES: readonly RouteSpec[] = [
  // Operations: probes, metrics and the API reference.
  route('GET', '/healthz', 'public', 'Liveness: the process answers.'),
  route('GET', '/readyz', 'public', 'Readiness: Postgres and the hold store answer within a second (503 otherwise).'),
  route('GET', '/metrics', 'admin-read', 'Prometheus metrics of this instance (text exposition format).', { produces: 'text/plain' }),
  route('GET', '/openapi.json', 'public', 'This OpenAPI 3.1 document.'),
  route('GET', '/docs', 'public', 'The API reference as an HTML page.', { produces: 'text/html' }),

  // OpenAI-compatible, metered.
  route('POST', '/v1/chat/completions', 'user', 'Chat completion (stream or not), metered and billed.', { body: chatBodySchema, produces: 'text/event-stream or application/json' }),
  route('POST', '/v1/responses', 'user', 'Responses API (stream or not), metered and billed.', { body: responsesRequestSchema, produces: 'text/event-stream or application/json' }),
  route('GET', '/v1/responses/:id', 'user', 'A stored response, for the account that created it.'),
  route('DELETE', '/v1/responses/:id', 'user', 'Deletes a stored response of this account.'),
  route('GET', '/v1/responses/:id/input_items', 'user', "A stored response's input items."),
  route('POST', '/v1/embeddings', 'user', 'Embeddings, metered and billed.', { body: embeddingsRequestSchema }),
  route('POST', '/v1/images/generations', 'user', 'Image generation, billed per image (or by image tokens).', { body: imageRequestSchema }),
  route('GET', '/v1/models', 'user', 'Models this key may use.'),
  route('GET', '/v1/models/:id{.+}', 'user', 'One model (404 when unknown or not allowed to this key).'),

  // The key's own account.
  route('GET', '/account', 'user', 'Balance, holds, available tokens, thresholds and auto-recharge of this account.'),
  route('PATCH', '/account/settings', 'user', "This account's low-balance threshold and auto-recharge.", { body: accountSettingsPatch }),
  route('GET', '/account/transactions', 'user', "This account's ledger entries, newest first.", { query: transactionsQuery }),
  route('GET', '/account/usage', 'user', "This account's usage rows, newest first (filters, keyset cursor).", { query: usageListQuery }),
  route('GET', '/account/usage/summary', 'user', "This account's usage summed by day, model, operation or key.", { query: usageSummaryQuery }),
  route('GET', '/account/usage/:requestId', 'user', 'The billed row of one request of this account, with its rates.'),
  route('GET', '/account/keys', 'user', "This account's keys.", { query: listKeysSchema }),
  route('POST', '/account/keys', 'user', 'Creates a user key; the secret is returned once.', { body: createOwnKeySchema, status: 201 }),
  route('DELETE', '/account/keys/:id', 'user', 'Revokes a key of this account.'),
  route('POST', '/account/checkout', 'user', 'Starts a Stripe Checkout for a package.', { body: checkoutSchema, status: 201 }),
  route('GET', '/packages', 'public', 'Token packages on sale.'),

  // Admin.
  route('POST', '/admin/accounts', 'admin', 'Creates an account with an opening grant.', { body: createAccountSchema, status: 201 }),
  route('GET', '/admin/accounts', 'admin-read', 'Lists accounts (filters, cursor paging).', { query: listAccountsSchema }),
  route('GET', '/admin/accounts/:id', 'admin-read', 'One account with its keys.'),
  route('PATCH', '/admin/accounts/:id', 'admin', 'Suspends or reactivates an account.', { body: updateAccountSchema }),
  route('POST', '/admin/accounts/:id/grants', 'admin', 'Grants (or deducts) tokens; idempotent on idempotencyKey (a replay answers 200).', { body: grantSchema, status: 201 }),
  route('POST', '/admin/accounts/:id/keys', 'admin', 'Creates a key of any role for the account.', { body: createAdminKeySchema, status: 201 }),
  route('GET', '/admin/accounts/:id/keys', 'admin-read', "The account's keys.", { query: listKeysSchema }),
  route('DELETE', '/admin/accounts/:id/keys/:keyId', 'admin', "Revokes one of the account's keys."),
  route('GET', '/admin/accounts/:id/transactions', 'admin-read', "The account's ledger entries, newest first.", { query: transactionsQuery }),
  route('GET', '/admin/accounts/:id/usage', 'admin-read', "The account's usage rows (filters, keyset cursor).", { query: usageListQuery }),
  route('GET', '/admin/accounts/:id/usage/summary', 'admin-read', "The account's usage summed by day, model, operation or key.", { query: usageSummaryQuery }),
  route('GET', '/admin/accounts/:id/usage/:requestId', 'admin-read', 'The billed row of one request of the account, with its rates.'),
  route('GET', '/admin/stats/tokens', 'admin-read', 'Tokens sold, granted, used and outstanding; accounts; revenue by currency (from, to).', { query: rangeQuery }),
  route('GET', '/admin/stats/models', 'admin-read', 'Per model: requests, tokens, tokens charged, error rate, p50/p95 latency (from, to).', { query: rangeQuery }),
  route('GET', '/admin/stats/operations', 'admin-read', 'Per operation: requests, tokens, tokens charged, error rate, p50/p95 latency (from, to).', { query: rangeQuery }),
  route('GET', '/admin/reconcile', 'admin-read', 'Checks balance == sum(ledger) and the hold store against Postgres.'),
  route('GET', '/admin/settings', 'admin-read', 'Gateway settings in force (the webhook secret masked).'),
  route('PATCH', '/admin/settings', 'admin', 'Changes settings; reaches every instance at once.', { body: settingsPatchSchema }),
  route('GET', '/admin/packages', 'admin-read', 'All packages, inactive ones too, and whether each was sold.'),
  route('POST', '/admin/packages', 'admin', 'Creates a package.', { body: createPackageSchema, status: 201 }),
  route('PATCH', '/admin/packages/:id', 'admin', 'Renames, reorders, (de)activates a package; terms of a sold package are frozen (409).', { body: updatePackageSchema }),
  route('GET', '/admin/models', 'admin-read', 'Prices in force: chat, embedding and image models, tool prices.'),

  // Other callers.
  route('POST', '/internal/usage', 'billing-secret', 'Records usage an app metered itself (a replay answers 200).', { body: internalUsageSchema, status: 201 }),
  route('POST', '/stripe/webhook', 'public', "Stripe's signed events (the signature is the authentication)."),
  route('GET', '/checkout/success', 'public', 'Where Checkout sends the buyer after paying.', { produces: 'text/html' }),
  route('GET', '/checkout/cancel', 'public', 'Where Checkout sends the buyer after canceling.', { produces: 'text/html' }),
];
