// Accounts: creation with an opening balance, and the views the API returns.
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';
import { postInTransaction } from '../billing/ledger.js';
import type { HoldStore } from '../billing/holds/types.js';
import { newId } from '../lib/ids.js';

export type AccountRow = typeof accounts.$inferSelect;

export interface NewAccount {
  name: string;
  email?: string | null;
  openingGrantTokens: number;
}

/** Creates the account and, when the grant is positive, its opening ledger row, in one transaction. */
export async function createAccount(db: Db, input: NewAccount): Promise<AccountRow> {
  const id = newId('acct');
  await db.transaction(async (tx) => {
    await tx.insert(accounts).values({ id, name: input.name, email: input.email ?? null });
    if (input.openingGrantTokens > 0) {
      await postInTransaction(tx, {
        accountId: id,
        type: 'grant',
        amount: input.openingGrantTokens,
        reference: `opening:${id}`,
        metadata: { reason: 'opening balance' },
      });
    }
  });
  return (await findAccount(db, id))!;
}

export async function findAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  const [row] = await db.select().from(accounts).where(eq(accounts.id, id));
  return row;
}

/**
 * What an account owner sees. The live balance comes from the hold store, which is ahead of Postgres
 * by the captures still being settled; `held` is what in-flight requests have reserved.
 */
export async function accountView(row: AccountRow, holds: HoldStore, defaultLowBalanceThreshold: number) {
  const { balanceTokens, heldTokens } = await holds.view(row.id);
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    status: row.status,
    balance: balanceTokens,
    held: heldTokens,
    available: balanceTokens - heldTokens,
    lowBalanceThreshold: row.lowBalanceThreshold ?? defaultLowBalanceThreshold,
    autoRecharge: {
      enabled: row.autoRechargeEnabled,
      threshold: row.autoRechargeThreshold,
      packageId: row.autoRechargePackageId,
      monthlyLimitTokens: row.autoRechargeMonthlyLimitTokens,
      // Failures in a row (3 turn it off), the last one, and when the next attempt may start.
      consecutiveFailures: row.autoRechargeFailures,
      lastFailure: row.autoRechargeLastError ?? null,
      retryAfter: row.autoRechargeRetryAt?.toISOString() ?? null,
    },
    createdAt: row.createdAt.toISOString(),
  };
}
