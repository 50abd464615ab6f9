// Time ranges and integer sums shared by the report queries.
import { sql, type SQL } from 'drizzle-orm';
import { toTokens } from '../billing/money.js';

export interface TimeRange {
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
}

/** created_at within the range; undefined when the range is open on both sides. */
export function inRange(createdAt: unknown, range: TimeRange): SQL | undefined {
  const parts: SQL[] = [];
  if (range.from) parts.push(sql`${createdAt} >= ${range.from.toISOString()}::timestamptz`);
  if (range.to) parts.push(sql`${createdAt} < ${range.to.toISOString()}::timestamptz`);
  return parts.length === 0 ? undefined : sql.join(parts, sql` and `);
}

/** A count or sum from Postgres (bigint and numeric arrive as text): a checked safe integer. */
export const int = (value: unknown, what = 'sum'): number => toTokens(value as string | number | null, what);
