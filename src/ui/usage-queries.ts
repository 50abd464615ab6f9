// The dashboard's usage reads: one query per widget, on the (account_id, created_at) and (created_at)
// indexes of usage_events. accountId null means every account (admin pages).
import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { resultRows, type Db } from '../db/client.js';
import { usageEvents } from '../db/schema.js';

export type UsageGroup = 'model' | 'operation';

export interface UsageRange {
  accountId: string | null;
  from: Date; // inclusive
  to: Date; // exclusive
}

export interface DayBucket {
  day: string; // YYYY-MM-DD (UTC)
  group: string;
  tokens: number; // input + output
  inputTokens: number;
  outputTokens: number;
  cost: number;
  requests: number;
}

function rangeFilter(range: UsageRange): SQL {
  return sql`${range.accountId ? sql`account_id = ${range.accountId} and ` : sql``}created_at >= ${range.from.toISOString()} and created_at < ${range.to.toISOString()}`;
}

const num = (value: unknown) => Number(value ?? 0);

/**
 * Provider tokens, cost and requests per UTC day, by model and by operation, from one pass over the
 * range: Postgres groups by (day, model, operation) in a hash (a few thousand groups at most), and the
 * two splits are summed here. The charts and the totals tables of a page all come from this query.
 */
export async function usageByDay(db: Db, range: UsageRange): Promise<Record<UsageGroup, DayBucket[]>> {
  const rows = await db.execute(sql`
    select to_char((created_at at time zone 'UTC')::date, 'YYYY-MM-DD') as day, model, coalesce(operation, '(none)') as op,
      sum(input_tokens) as input, sum(output_tokens) as output, sum(cost) as cost, count(*) as requests
    from usage_events where ${rangeFilter(range)}
    group by (created_at at time zone 'UTC')::date, model, operation`);
  const split: Record<UsageGroup, Map<string, DayBucket>> = { model: new Map(), operation: new Map() };
  for (const r of resultRows<Record<string, unknown>>(rows)) {
    for (const group of ['model', 'operation'] as const) {
      const name = String(group === 'model' ? r.model : r.op);
      const id = `${String(r.day)} ${name}`;
      const bucket = split[group].get(id) ?? { day: String(r.day), group: name, tokens: 0, inputTokens: 0, outputTokens: 0, cost: 0, requests: 0 };
      bucket.inputTokens += num(r.input);
      bucket.outputTokens += num(r.output);
      bucket.tokens = bucket.inputTokens + bucket.outputTokens;
      bucket.cost += num(r.cost);
      bucket.requests += num(r.requests);
      split[group].set(id, bucket);
    }
  }
  const sorted = (m: Map<string, DayBucket>) => [...m.values()].sort((a, b) => a.day.localeCompare(b.day) || a.group.localeCompare(b.group));
  return { model: sorted(split.model), operation: sorted(split.operation) };
}

export interface GroupTotal {
  group: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** Totals per model or operation over the range, summed from the day buckets (no second query). */
export function totalsOf(buckets: DayBucket[]): GroupTotal[] {
  const totals = new Map<string, GroupTotal>();
  for (const b of buckets) {
    const t = totals.get(b.group) ?? { group: b.group, requests: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
    t.requests += b.requests;
    t.inputTokens += b.inputTokens;
    t.outputTokens += b.outputTokens;
    t.cost += b.cost;
    totals.set(b.group, t);
  }
  return [...totals.values()].sort((a, b) => b.cost - a.cost || a.group.localeCompare(b.group));
}

export interface UsageFilters {
  from?: Date;
  to?: Date;
  model?: string;
  operation?: string;
  cursor?: UsageCursor;
  limit: number;
}

/** Position in a newest-first listing: created_at (ISO, microseconds) and id. */
export interface UsageCursor {
  at: string;
  id: string;
}

export const encodeUsageCursor = (cursor: UsageCursor) => Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');

export function decodeUsageCursor(text: string | undefined): UsageCursor | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string' && !Number.isNaN(Date.parse(value[0]))) return { at: value[0], id: value[1] };
  } catch {
    // not one of ours: the first page
  }
  return undefined;
}

const createdAtText = sql<string>`to_char(${usageEvents.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export type UsageRow = typeof usageEvents.$inferSelect;

/** One page of an account's usage rows, newest first. */
export async function usagePage(db: Db, accountId: string, filters: UsageFilters): Promise<{ rows: UsageRow[]; nextCursor: string | null }> {
  const found = await db
    .select({ row: usageEvents, at: createdAtText })
    .from(usageEvents)
    .where(
      and(
        eq(usageEvents.accountId, accountId),
        filters.from ? gte(usageEvents.createdAt, filters.from) : undefined,
        filters.to ? lt(usageEvents.createdAt, filters.to) : undefined,
        filters.model ? eq(usageEvents.model, filters.model) : undefined,
        filters.operation ? eq(usageEvents.operation, filters.operation) : undefined,
        filters.cursor ? sql`(${usageEvents.createdAt}, ${usageEvents.id}) < (${filters.cursor.at}::timestamptz, ${filters.cursor.id})` : undefined,
      ),
    )
    .orderBy(desc(usageEvents.createdAt), desc(usageEvents.id))
    .limit(filters.limit + 1);
  const page = found.slice(0, filters.limit);
  const last = page.at(-1);
  return { rows: page.map((f) => f.row), nextCursor: found.length > filters.limit && last ? encodeUsageCursor({ at: last.at, id: last.row.id }) : null };
}
