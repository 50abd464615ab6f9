// Ledger listings of one account (GET /account/transactions, GET /admin/accounts/:id/transactions).
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { ledgerEntries, type LedgerType } from '../db/schema.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './usage.js';

export interface TransactionRecord {
  id: number;
  accountId: string;
  type: LedgerType;
  amount: number;
  balanceAfter: number;
  reference: string;
  metadata: unknown;
  createdAt: string;
}

export interface TransactionPage {
  data: TransactionRecord[];
  /** The last row's id: pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface TransactionListParams {
  accountId: string;
  type?: LedgerType;
  limit?: number;
  /** Rows with an id below this one (ids only grow, so a page never repeats a row). */
  cursor?: number;
}

export function transactionRecord(entry: typeof ledgerEntries.$inferSelect): TransactionRecord {
  return {
    id: entry.id,
    accountId: entry.accountId,
    type: entry.type,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    reference: entry.reference,
    metadata: entry.metadata,
    createdAt: entry.createdAt.toISOString(),
  };
}

/** Newest first (by id, which follows the running balance order of the ledger_entries_account_id_idx index). */
export async function listTransactions(db: Db, params: TransactionListParams): Promise<TransactionPage> {
  const limit = Math.min(Math.max(Math.trunc(params.limit ?? DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE);
  const rows = await db
    .select()
    .from(ledgerEntries)
    .where(
      and(
        eq(ledgerEntries.accountId, params.accountId),
        params.type ? eq(ledgerEntries.type, params.type) : undefined,
        params.cursor !== undefined ? lt(ledgerEntries.id, params.cursor) : undefined,
      ),
    )
    .orderBy(desc(ledgerEntries.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return { data: page.map(transactionRecord), nextCursor: rows.length > limit ? String(page.at(-1)!.id) : null };
}
