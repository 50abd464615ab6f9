// API keys: `tg-` + 32 random bytes (base64url). Only the sha256 is stored; the key is shown once.
import { createHash, randomBytes } from 'node:crypto';
import type { Db, Tx } from '../db/client.js';
import { apiKeys } from '../db/schema.js';
import { newId } from '../lib/ids.js';

export type KeyRole = 'user' | 'admin' | 'auditor';
export type ApiKeyRow = typeof apiKeys.$inferSelect;

export const KEY_PATTERN = /^tg-[A-Za-z0-9_-]{32,}$/;

export const generateApiKey = () => `tg-${randomBytes(32).toString('base64url')}`;
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');
/** What dashboards show: enough to recognise a key, far too little to use it. */
export const displayPrefix = (key: string) => `${key.slice(0, 10)}…`;

export interface NewKey {
  accountId: string;
  name: string;
  role?: KeyRole;
  rpm?: number | null;
  tpm?: number | null;
  budgetTokens?: number | null;
  models?: string[] | null;
  expiresAt?: Date | null;
}

/** Creates a key and returns the only copy of its secret alongside the stored row. */
export async function createApiKey(db: Db | Tx, input: NewKey, secret = generateApiKey()): Promise<{ key: string; row: ApiKeyRow }> {
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId('key'),
      accountId: input.accountId,
      keyHash: hashApiKey(secret),
      prefix: displayPrefix(secret),
      role: input.role ?? 'user',
      name: input.name,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      budgetTokens: input.budgetTokens ?? null,
      models: input.models ?? null,
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
  return { key: secret, row: row! };
}


/** The public view of a key row: never the hash. */
export function publicKey(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    rpm: row.rpm,
    tpm: row.tpm,
    budget: row.budgetTokens,
    models: row.models,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}
