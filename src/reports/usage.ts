// Usage reports of one account (SPEC 4: GET /account/usage, /summary, /:requestId and their admin
// twins): pure functions of (db, params) returning plain objects; routes and the dashboard share them.
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { resultRows, type Db } from '../db/client.js';
import { usageEvents } from '../db/schema.js';
import { afterPosition, decodeCursor, encodeCursor, microsOf } from './cursor.js';
import { inRange, int, type TimeRange } from './range.js';

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

export interface UsageFilters extends TimeRange {
  accountId: string;
  model?: string;
  operation?: string;
  /** An API key id of the account. */
  keyId?: string;
}

export interface UsageListParams extends UsageFilters {
  /** 1..MAX_PAGE_SIZE. */
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
}

/** One billed request as clients see it (usage_events without internal columns renamed). */
export interface UsageRecord {
  id: string;
  keyId: string | null;
  model: string;
  provider: string;
  operation: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  images: number;
  toolCalls: Record<string, number> | null;
  /** Billing tokens charged. */
  cost: number;
  /** Rates as billed (per 1,000,000 provider tokens, or per image). */
  rates: unknown;
  usageSource: 'provider' | 'estimated';
  status: 'ok' | 'error' | 'client_aborted' | 'interrupted';
  latencyMs: number;
  stream: boolean;
  createdAt: string;
}

export interface UsagePage {
  data: UsageRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export type UsageGroupBy = 'day' | 'model' | 'operation' | 'key';
export const usageGroupings = ['day', 'model', 'operation', 'key'] as const satisfies readonly UsageGroupBy[];

export interface UsageTotals {
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  images: number;
  cost: number;
}

export interface UsageGroup extends UsageTotals {
  /** The day (YYYY-MM-DD, UTC), model, operation or key id; null for rows without an operation or key. */
  group: string | null;
}

export interface UsageSummary {
  groupBy: UsageGroupBy;
  data: UsageGroup[];
  totals: UsageTotals;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('The cursor is not one this listing returned.');
  }
}

type UsageRow = typeof usageEvents.$inferSelect;

export function usageRecord(row: UsageRow): UsageRecord {
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
    toolCalls: row.toolCalls ?? null,
    cost: row.cost,
    rates: row.rates,
    usageSource: row.usageSource,
    status: row.status,
    latencyMs: row.latencyMs,
    stream: row.stream,
    createdAt: row.createdAt.toISOString(),
  };
}

function filtersOf(params: UsageFilters): SQL | undefined {
  return and(
    eq(usageEvents.accountId, params.accountId),
    inRange(usageEvents.createdAt, params),
    params.model !== undefined ? eq(usageEvents.model, params.model) : undefined,
    params.operation !== undefined ? eq(usageEvents.operation, params.operation) : undefined,
    params.keyId !== undefined ? eq(usageEvents.keyId, params.keyId) : undefined,
  );
}

/**
 * Newest first, keyset-paged on (created_at, id): a row is never on two pages, and no row that existed
 * when the first page was read is skipped, however many rows are written between pages.
 * Throws InvalidCursorError for a cursor this function did not return.
 */
export async function listUsage(db: Db, params: UsageListParams): Promise<UsagePage> {
  const limit = Math.min(Math.max(Math.trunc(params.limit ?? DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE);
  const position = params.cursor === undefined ? undefined : decodeCursor(params.cursor);
  if (position === null) throw new InvalidCursorError();
  const rows = await db
    .select({ row: usageEvents, micros: microsOf(usageEvents.createdAt) })
    .from(usageEvents)
    .where(and(filtersOf(params), position ? afterPosition(usageEvents.createdAt, usageEvents.id, position) : undefined))
    .orderBy(desc(usageEvents.createdAt), desc(usageEvents.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map(({ row }) => usageRecord(row)),
    nextCursor: rows.length > limit && last ? encodeCursor({ micros: last.micros, id: last.row.id }) : null,
  };
}

/** One request's billed row, only if it belongs to the account (undefined otherwise: a 404, not a 403). */
export async function findUsage(db: Db, accountId: string, requestId: string): Promise<UsageRecord | undefined> {
  const [row] = await db
    .select()
    .from(usageEvents)
    .where(and(eq(usageEvents.id, requestId), eq(usageEvents.accountId, accountId)));
  return row ? usageRecord(row) : undefined;
}

const groupExpressions: Record<UsageGroupBy, SQL> = {
  day: sql`to_char(date_trunc('day', ${usageEvents.createdAt} at time zone 'UTC'), 'YYYY-MM-DD')`,
  model: sql`${usageEvents.model}`,
  operation: sql`${usageEvents.operation}`,
  key: sql`${usageEvents.keyId}`,
};

type SumRow = Record<'requests' | 'input' | 'cached' | 'output' | 'reasoning' | 'images' | 'cost', string | number>;

const sums = sql`count(*) as requests,
  coalesce(sum(${usageEvents.inputTokens}), 0) as input,
  coalesce(sum(${usageEvents.cachedInputTokens}), 0) as cached,
  coalesce(sum(${usageEvents.outputTokens}), 0) as output,
  coalesce(sum(${usageEvents.reasoningTokens}), 0) as reasoning,
  coalesce(sum(${usageEvents.images}), 0) as images,
  coalesce(sum(${usageEvents.cost}), 0) as cost`;

function totalsOf(row: SumRow): UsageTotals {
  return {
    requests: int(row.requests),
    inputTokens: int(row.input),
    cachedInputTokens: int(row.cached),
    outputTokens: int(row.output),
    reasoningTokens: int(row.reasoning),
    images: int(row.images),
    cost: int(row.cost),
  };
}

/**
 * Requests, tokens, images and cost per day (UTC), model, operation or key, over the filters. Days
 * come oldest first; other groups by cost, largest first.
 */
export async function summarizeUsage(db: Db, params: UsageFilters & { groupBy: UsageGroupBy }): Promise<UsageSummary> {
  const group = groupExpressions[params.groupBy];
  const order = params.groupBy === 'day' ? sql`1 asc` : sql`cost desc, 1 asc nulls last`;
  const where = filtersOf(params);
  const rows = resultRows<SumRow & { group: string | null }>(
    await db.execute(sql`select ${group} as "group", ${sums} from ${usageEvents} where ${where} group by 1 order by ${order}`),
  );
  const data = rows.map((row) => ({ group: row.group, ...totalsOf(row) }));
  const totals = data.reduce<UsageTotals>(
    (sum, g) => ({
      requests: sum.requests + g.requests,
      inputTokens: sum.inputTokens + g.inputTokens,
      cachedInputTokens: sum.cachedInputTokens + g.cachedInputTokens,
      outputTokens: sum.outputTokens + g.outputTokens,
      reasoningTokens: sum.reasoningTokens + g.reasoningTokens,
      images: sum.images + g.images,
      cost: sum.cost + g.cost,
    }),
    { requests: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, images: 0, cost: 0 },
  );
  return { groupBy: params.groupBy, data, totals };
}
