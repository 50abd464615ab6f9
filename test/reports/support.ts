// Usage rows written straight into usage_events (as the settler writes them), with chosen times,
// models, operations, keys and outcomes, so reports can be checked against sums computed here.
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { expect } from 'vitest';
import type { TestResponse } from '../helpers/harness.js';

export interface RawUsage {
  id: string;
  accountId: string;
  keyId: string | null;
  model: string;
  provider: string;
  operation: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  images: number;
  cost: number;
  rates: Record<string, unknown>;
  usageSource: 'provider' | 'estimated';
  status: 'ok' | 'error' | 'client_aborted' | 'interrupted';
  latencyMs: number;
  stream: boolean;
  /** ISO text, microseconds allowed. */
  createdAt: string;
}

let sequence = 0;

/** A row with deterministic-but-varied numbers; `over` fixes what a test cares about. */
export function rawUsage(accountId: string, over: Partial<RawUsage> = {}): RawUsage {
  sequence += 1;
  const n = sequence;
  const inputTokens = 100 + ((n * 37) % 900);
  const outputTokens = 10 + ((n * 53) % 400);
  return {
    id: `req_${randomUUID().replaceAll('-', '')}`,
    accountId,
    keyId: null,
    model: 'mock',
    provider: 'mock',
    operation: null,
    inputTokens,
    cachedInputTokens: n % 3 === 0 ? Math.floor(inputTokens / 4) : 0,
    outputTokens,
    reasoningTokens: n % 4 === 0 ? Math.floor(outputTokens / 2) : 0,
    images: n % 7 === 0 ? 1 : 0,
    cost: inputTokens + 2 * outputTokens,
    rates: { input: 1_000_000, cachedInput: 500_000, output: 2_000_000, per: 1_000_000 },
    usageSource: 'provider',
    status: 'ok',
    latencyMs: 50 + ((n * 97) % 3000),
    stream: n % 2 === 0,
    createdAt: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
    ...over,
  };
}

export async function insertUsage(sql: postgres.Sql, rows: RawUsage[]): Promise<void> {
  if (rows.length === 0) return;
  const records = rows.map((r) => ({
    id: r.id,
    account_id: r.accountId,
    key_id: r.keyId,
    model: r.model,
    provider: r.provider,
    operation: r.operation,
    input_tokens: r.inputTokens,
    cached_input_tokens: r.cachedInputTokens,
    output_tokens: r.outputTokens,
    reasoning_tokens: r.reasoningTokens,
    images: r.images,
    cost: r.cost,
    rates: r.rates,
    usage_source: r.usageSource,
    status: r.status,
    latency_ms: r.latencyMs,
    stream: r.stream,
    created_at: r.createdAt,
  }));
  // Through jsonb, not bound parameters: postgres.js sends a timestamptz parameter through a JS Date,
  // which would drop the microseconds the paging tests rely on.
  await sql`insert into usage_events select * from jsonb_populate_recordset(null::usage_events, ${sql.json(records as postgres.JSONValue)})`;
}

export function expectBadRequest(response: TestResponse, param: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.body).toEqual({ error: { message: expect.stringContaining(param), type: 'invalid_request_error', code: 'invalid_request', param } });
}

/** What the public usage record of a raw row looks like. */
export function recordOf(row: RawUsage) {
  return {
    id: row.id,
    keyId: row.keyId,
    model: row.model,
    provider: row.provider,
    operation: row.operation,
    inputTokens: row.inputTokens,
    cachedInputTokens: row.cachedInputTokens,
    outputTokens: row.outputTokens,
    reasoningTokens: row.reasoningTokens,
    images: row.images,
    toolCalls: null,
    cost: row.cost,
    rates: row.rates,
    usageSource: row.usageSource,
    status: row.status,
    latencyMs: row.latencyMs,
    stream: row.stream,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

/** Newest first by (createdAt, id), the listing's order, computed here. Microsecond ISO text sorts as text. */
export function newestFirst(rows: RawUsage[]): RawUsage[] {
  const key = (r: RawUsage) => `${micros(r.createdAt)}|${r.id}`;
  return [...rows].sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
}

/** "2026-01-01T00:00:00.123456Z" -> fixed-width microsecond text for sorting. */
function micros(iso: string): string {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso);
  if (!match) throw new Error(`use UTC ISO text in tests: ${iso}`);
  return `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}`;
}

/** Sums of the columns the summary reports, over rows. */
export function totalsOf(rows: RawUsage[]) {
  return {
    requests: rows.length,
    inputTokens: rows.reduce((s, r) => s + r.inputTokens, 0),
    cachedInputTokens: rows.reduce((s, r) => s + r.cachedInputTokens, 0),
    outputTokens: rows.reduce((s, r) => s + r.outputTokens, 0),
    reasoningTokens: rows.reduce((s, r) => s + r.reasoningTokens, 0),
    images: rows.reduce((s, r) => s + r.images, 0),
    cost: rows.reduce((s, r) => s + r.cost, 0),
  };
}

/** Postgres' percentile_cont: linear interpolation between the two nearest ranks. */
export function percentileCont(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export function groupBy<T>(rows: T[], keyOf: (row: T) => string | null): Map<string | null, T[]> {
  const groups = new Map<string | null, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return groups;
}
