// Public shapes of rows the account routes return: database rows never leak as they are.
import type { LedgerEntry } from '../../billing/ledger.js';

export function publicLedgerEntry(entry: LedgerEntry) {
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
