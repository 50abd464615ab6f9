// API keys: `tg-` + 32 random bytes (base64url). Only the sha256 is stored; the key is shown once.
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, gt, isNotNull, isNull, lte, ne, or, sql, type SQL } from 'drizzle-orm';
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
    status: keyStatus(row),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

export type KeyStatus = 'active' | 'revoked' | 'expired';

export function keyStatus(row: Pick<ApiKeyRow, 'revokedAt' | 'expiresAt'>, now = Date.now()): KeyStatus {
  if (row.revokedAt) return 'revoked';
  if (row.expiresAt && row.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

export interface KeyListFilters {
  status?: KeyStatus;
  role?: KeyRole;
  limit: number;
  cursor?: KeyCursor;
}

/** Position in a newest-first listing: created_at to the microsecond (as ISO text) and id. */
export interface KeyCursor {
  createdAt: string;
  id: string;
}

export const encodeKeyCursor = (cursor: KeyCursor) => Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');

export function decodeKeyCursor(text: string): KeyCursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[1] === 'string' && typeof value[0] === 'string' && !Number.isNaN(Date.parse(value[0]))) {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // fall through: not a cursor we made
  }
  return null;
}

const createdAtText = sql<string>`to_char(${apiKeys.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** One page of an account's keys, newest first; rows created while paging never shift a page. */
export async function listApiKeys(db: Db, accountId: string, filters: KeyListFilters): Promise<{ rows: ApiKeyRow[]; nextCursor: string | null }> {
  const now = new Date();
  const byStatus: Record<KeyStatus, SQL | undefined> = {
    active: and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now))),
    revoked: isNotNull(apiKeys.revokedAt),
    expired: and(isNull(apiKeys.revokedAt), lte(apiKeys.expiresAt, now)),
  };
  const found = await db
    .select({ row: apiKeys, at: createdAtText })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.accountId, accountId),
        filters.status ? byStatus[filters.status] : undefined,
        filters.role ? eq(apiKeys.role, filters.role) : undefined,
        filters.cursor ? sql`(${apiKeys.createdAt}, ${apiKeys.id}) < (${filters.cursor.createdAt}::timestamptz, ${filters.cursor.id})` : undefined,
      ),
    )
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(filters.limit + 1);
  const page = found.slice(0, filters.limit);
  const last = page.at(-1);
  return {
    rows: page.map((f) => f.row),
    nextCursor: found.length > filters.limit && last ? encodeKeyCursor({ createdAt: last.at, id: last.row.id }) : null,
  };
}

export type RevokeResult = { outcome: 'not_found' } | { outcome: 'last_admin' } | { outcome: 'revoked' | 'already_revoked'; row: ApiKeyRow };

/**
 * Revokes a key of this account (scoped: another account's key id is "not found"). Revoking twice
 * returns the key as it is. Refuses to revoke the last live admin key, which would lock admins out.
 */
export async function revokeApiKey(db: Db, accountId: string, keyId: string): Promise<RevokeResult> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(apiKeys).where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId))).for('update');
    if (!row) return { outcome: 'not_found' };
    if (row.revokedAt) return { outcome: 'already_revoked', row };
    if (row.role === 'admin') {
      // Serialised with other admin-key revocations, so two of them cannot each leave the other last.
      await tx.execute(sql`select pg_advisory_xact_lock(${LAST_ADMIN_LOCK_ID})`);
      const [other] = await tx
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(and(eq(apiKeys.role, 'admin'), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date())), ne(apiKeys.id, keyId)))
        .limit(1);
      if (!other) return { outcome: 'last_admin' };
    }
    const [revoked] = await tx.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, keyId)).returning();
    return { outcome: 'revoked', row: revoked! };
  });
}

const LAST_ADMIN_LOCK_ID = 727_100_003;
