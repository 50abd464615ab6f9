// Opaque keyset cursors for listings ordered by (created_at, id) descending. The position is kept to
// the microsecond as Postgres stores it: a JS Date (milliseconds) would skip or repeat rows that share
// a millisecond.
import { sql, type SQL } from 'drizzle-orm';

export interface KeysetPosition {
  /** created_at in microseconds since the Unix epoch, as decimal text (exact, unlike a Date). */
  micros: string;
  id: string;
}

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.micros, position.id]), 'utf8').toString('base64url');
}

/** The position a cursor names, or null when the text is not a cursor this module wrote. */
export function decodeCursor(cursor: string): KeysetPosition | null {
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [micros, id] = value as unknown[];
    if (typeof micros !== 'string' || !/^-?\d{1,19}$/.test(micros) || typeof id !== 'string' || id.length === 0 || id.length > 200) return null;
    return { micros, id };
  } catch {
    return null;
  }
}

/** The exact microsecond count of a timestamptz column, as text (extract returns numeric: no rounding). */
export const microsOf = (column: unknown) => sql<string>`(extract(epoch from ${column}) * 1000000)::bigint::text`;

/** Rows strictly after `position` in (created_at desc, id desc) order: a row-value comparison the index serves. */
export function afterPosition(createdAt: unknown, id: unknown, position: KeysetPosition): SQL {
  return sql`(${createdAt}, ${id}) < (timestamptz 'epoch' + ${position.micros}::bigint * interval '1 microsecond', ${position.id})`;
}
