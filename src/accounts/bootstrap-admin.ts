// The bootstrap admin: ADMIN_API_KEY when set; otherwise one admin key generated at first start.
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { accounts, apiKeys } from '../db/schema.js';
import { createApiKey, hashApiKey } from './api-keys.js';

const OPERATOR_ACCOUNT_ID = 'acct_operator';
const BOOTSTRAP_LOCK_ID = 727_100_002;

export type BootstrapResult = { created: false } | { created: true; key: string; source: 'env' | 'generated' };

/**
 * Ensures an admin can log in. With ADMIN_API_KEY, that key is registered (once); without it, a key is
 * generated only when no live admin key exists. Serialised by an advisory lock for concurrent starts.
 */
export async function ensureBootstrapAdmin(db: Db, adminApiKey?: string): Promise<BootstrapResult> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_ID})`);
    await tx.insert(accounts).values({ id: OPERATOR_ACCOUNT_ID, name: 'Operator' }).onConflictDoNothing();
    if (adminApiKey) {
      const [existing] = await tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.keyHash, hashApiKey(adminApiKey)));
      if (existing) return { created: false };
      await createApiKey(tx, { accountId: OPERATOR_ACCOUNT_ID, name: 'bootstrap admin (ADMIN_API_KEY)', role: 'admin' }, adminApiKey);
      return { created: true, key: adminApiKey, source: 'env' };
    }
    const [liveAdmin] = await tx
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.role, 'admin'), isNull(apiKeys.revokedAt)))
      .limit(1);
    if (liveAdmin) return { created: false };
    const { key } = await createApiKey(tx, { accountId: OPERATOR_ACCOUNT_ID, name: 'bootstrap admin', role: 'admin' });
    return { created: true, key, source: 'generated' };
  });
}
