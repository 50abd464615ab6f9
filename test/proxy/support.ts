// Shared set-up for the proxy acceptance tests: a gateway pointed at a stub OpenAI, a Postgres client
// on its database, an SDK client per key, and deterministic waits for asynchronous settlement.
import OpenAI from 'openai';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import type { ChatModel } from '../../src/billing/price-table.js';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from '../helpers/harness.js';
import { startStubOpenAI, type StubOpenAI } from '../helpers/stub-openai.js';

export const STUB_KEY = 'sk-test-stub';

const prices = loadPriceTable();
export const GPT_4O_MINI: ChatModel = prices.chat('gpt-4o-mini')!;
export const MOCK: ChatModel = prices.chat('mock')!;

export interface ProxyEnv {
  gw: TestGateway;
  stub: StubOpenAI;
  sql: postgres.Sql;
  stop(): Promise<void>;
}

/**
 * For a test file: starts the stub and gateway before its tests, stops them after, and resets the
 * stub's script and records before each test. The returned object reads the running environment.
 */
export function useProxyEnv(options: TestGatewayOptions = {}): ProxyEnv {
  let current: ProxyEnv | undefined;
  beforeAll(async () => {
    current = await startProxyEnv(options);
  });
  afterAll(async () => {
    await current?.stop();
  });
  beforeEach(() => current?.stub.reset());
  const running = () => {
    if (!current) throw new Error('the proxy environment starts in beforeAll');
    return current;
  };
  return {
    get gw() {
      return running().gw;
    },
    get stub() {
      return running().stub;
    },
    get sql() {
      return running().sql;
    },
    stop: () => running().stop(),
  };
}

/** A stub OpenAI and a gateway configured to use it (OPENAI_BASE_URL, OPENAI_API_KEY). */
export async function startProxyEnv(options: TestGatewayOptions = {}): Promise<ProxyEnv> {
  const stub = await startStubOpenAI();
  const gw = await startTestGateway({ ...options, env: { OPENAI_BASE_URL: stub.url, OPENAI_API_KEY: STUB_KEY, ...options.env } });
  const sql = postgres(gw.database.url, { max: 4, onnotice: () => {} });
  return {
    gw,
    stub,
    sql,
    stop: async () => {
      await sql.end();
      await gw.stop();
      await stub.stop();
    },
  };
}

export function sdk(gw: TestGateway, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 });
}

/** A fresh account with `balance` tokens and a user key for it. */
export async function funded(gw: TestGateway, balance: number): Promise<{ accountId: string; key: string; client: OpenAI }> {
  const account = await accountWithBalance(gw, balance);
  const key = await keyFor(gw, account);
  return { accountId: account.id, key, client: sdk(gw, key) };
}

/** Writes every queued settlement into Postgres (the settler's own loop, run to empty). */
export async function settleAll(gw: TestGateway): Promise<void> {
  while ((await gw.gateway.deps.settler.flushOnce()) > 0);
}

export interface UsageRow {
  id: string;
  account_id: string;
  model: string;
  provider: string;
  operation: string | null;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost: number;
  rates: Record<string, number>;
  usage_source: 'provider' | 'estimated';
  status: 'ok' | 'error' | 'client_aborted';
  stream: boolean;
}

export interface LedgerRow {
  id: number;
  account_id: string;
  type: string;
  amount: number;
  balance_after: number;
  reference: string;
}

export async function usageRows(sql: postgres.Sql, requestId: string): Promise<UsageRow[]> {
  const rows = await sql`select id, account_id, model, provider, operation, input_tokens::int, cached_input_tokens::int, output_tokens::int,
    reasoning_tokens::int, cost::int, rates, usage_source, status, stream from usage_events where id = ${requestId}`;
  return rows as unknown as UsageRow[];
}

export async function usageRowsOfAccount(sql: postgres.Sql, accountId: string): Promise<UsageRow[]> {
  const rows = await sql`select id from usage_events where account_id = ${accountId} order by created_at`;
  return (await Promise.all(rows.map((r) => usageRows(sql, r.id as string)))).flat();
}

export async function ledgerRows(sql: postgres.Sql, accountId: string): Promise<LedgerRow[]> {
  const rows = await sql`select id::int, account_id, type, amount::int, balance_after::int, reference from ledger_entries
    where account_id = ${accountId} order by id`;
  return rows as unknown as LedgerRow[];
}

export async function usageLedgerRows(sql: postgres.Sql, requestId: string): Promise<LedgerRow[]> {
  const rows = await sql`select id::int, account_id, type, amount::int, balance_after::int, reference from ledger_entries
    where type = 'usage' and reference = ${requestId}`;
  return rows as unknown as LedgerRow[];
}

/**
 * Streams settle when the stream ends or the client leaves, which may be just after the client saw
 * the end: flush the settler until the request's usage row is in Postgres (bounded, no fixed sleep).
 * `by` is a request id, or `{ accountId }` for a request whose response (and id) the client never saw.
 */
export async function settledUsage(env: Pick<ProxyEnv, 'gw' | 'sql'>, by: string | { accountId: string }, timeoutMs = 5_000): Promise<UsageRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await settleAll(env.gw);
    const [row] = typeof by === 'string' ? await usageRows(env.sql, by) : await usageRowsOfAccount(env.sql, by.accountId);
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`${JSON.stringify(by)} was not settled within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Nothing was recorded for this request: no usage row and no usage ledger row. */
export async function expectNotBilled(env: Pick<ProxyEnv, 'gw' | 'sql'>, requestId: string): Promise<void> {
  await settleAll(env.gw);
  expect(await usageRows(env.sql, requestId)).toEqual([]);
  expect(await usageLedgerRows(env.sql, requestId)).toEqual([]);
}

export async function accountView(gw: TestGateway, key: string): Promise<{ balance: number; held: number; available: number }> {
  const response = await gw.request('GET', '/account', { key });
  expect(response.status).toBe(200);
  return response.body;
}

export function expectOpenAIErrorShape(body: unknown): void {
  expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), code: expect.toBeOneOf([expect.any(String), null]), param: expect.toBeOneOf([expect.any(String), null]) } });
}

/** The OpenAI-shaped error of a response. */
export async function errorOf(response: Response): Promise<{ message: string; type: string; code: string | null; param: string | null }> {
  const body = (await response.json()) as { error: { message: string; type: string; code: string | null; param: string | null } };
  return body.error;
}

/** POST /v1/chat/completions with fetch, for raw bytes, raw bodies and headers. */
export function postChat(gw: TestGateway, key: string, body: unknown, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
}
