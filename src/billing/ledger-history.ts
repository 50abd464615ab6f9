// Reading one account's ledger, newest first, a page at a time (the account and admin routes and the
// dashboard share it; every read is scoped by the account id).
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { ledgerEntries, type LedgerType } from '../db/schema.js';
import type { LedgerEntry } from './ledger.js';

export interface LedgerPageQuery {
  type?: LedgerType;
  limit: number;
  /** The id of the last row of the previous page. */
  cursor?: number;
}

export async function ledgerPage(db: Db, accountId: string, query: LedgerPageQuery): Promise<{ rows: LedgerEntry[]; nextCursor: string | null }> {
  const rows = await db
    .select()
    .from(ledgerEntries)
    .where(
      and(
        eq(ledgerEntries.accountId, accountId),
        query.type ? eq(ledgerEntries.type, query.type) : undefined,
        query.cursor ? lt(ledgerEntries.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(ledgerEntries.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return { rows: page, nextCursor: rows.length > query.limit ? String(page.at(-1)!.id) : null };
}
