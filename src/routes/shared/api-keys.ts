// What GET/POST/DELETE /account/keys and /admin/accounts/:id/keys share: input schemas, the listing
// and the revocation. Every query is scoped by the account id the route resolved.
import type { Context } from 'hono';
import { z } from 'zod';
import { createApiKey, decodeKeyCursor, listApiKeys, publicKey, revokeApiKey, type ApiKeyRow, type KeyRole } from '../../accounts/api-keys.js';
import type { Deps } from '../../deps.js';
import { parseQuery } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { MAX_TOKEN_AMOUNT, storedText } from '../admin/schemas.js';

// rpm and tpm are `integer` columns: bounded well inside 2^31 (and far beyond any real provider limit).
export const MAX_RPM = 1_000_000;
export const MAX_TPM = 1_000_000_000;

const keyFields = {
  name: storedText(200),
  rpm: z.number().int().min(1).max(MAX_RPM).optional(),
  tpm: z.number().int().min(1).max(MAX_TPM).optional(),
  budget: z.number().int().min(1).max(MAX_TOKEN_AMOUNT).optional(),
  models: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
};

/** POST /account/keys: always a `user` key of the caller's own account. */
export const createOwnKeySchema = z.strictObject(keyFields);
/** POST /admin/accounts/:id/keys: any role. */
export const createAdminKeySchema = z.strictObject({ ...keyFields, role: z.enum(['user', 'admin', 'auditor']).default('user') });

export const listKeysSchema = z.object({
  status: z.enum(['active', 'revoked', 'expired']).optional(),
  role: z.enum(['user', 'admin', 'auditor']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).optional(),
});

export type KeyInput = z.infer<typeof createOwnKeySchema> & { role?: KeyRole };

/** Creates the key after the checks zod cannot make alone; returns the only copy of the secret. */
export async function createKeyForAccount(deps: Pick<Deps, 'db' | 'prices'>, accountId: string, input: KeyInput): Promise<{ key: string; row: ApiKeyRow }> {
  const { db, prices } = deps;
  const known = new Set(prices.all().map((m) => m.id));
  const unknownAt = input.models?.findIndex((id) => !known.has(id)) ?? -1;
  if (unknownAt >= 0) throw badRequest(`Invalid 'models.${unknownAt}': the model '${input.models![unknownAt]}' does not exist or has no price.`, `models.${unknownAt}`, 'model_not_found');
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) throw badRequest("Invalid 'expiresAt': must be in the future.", 'expiresAt');
  return createApiKey(db, {
    accountId,
    name: input.name,
    role: input.role,
    rpm: input.rpm,
    tpm: input.tpm,
    budgetTokens: input.budget,
    models: input.models,
    expiresAt,
  });
}

/** 201 with the only copy of the secret. */
export async function createKeyResponse(c: Context<AppEnv>, accountId: string, input: KeyInput): Promise<Response> {
  const { key, row } = await createKeyForAccount(c.get('deps'), accountId, input);
  return c.json({ ...publicKey(row), key }, 201);
}

export async function listKeysResponse(c: Context<AppEnv>, accountId: string): Promise<Response> {
  const query = parseQuery(c, listKeysSchema);
  const cursor = query.cursor === undefined ? undefined : decodeKeyCursor(query.cursor);
  if (cursor === null) throw badRequest("Invalid 'cursor': use the nextCursor of a previous page.", 'cursor');
  const { rows, nextCursor } = await listApiKeys(c.get('deps').db, accountId, { status: query.status, role: query.role, limit: query.limit, cursor });
  return c.json({ data: rows.map(publicKey), nextCursor });
}

/** Revokes on every instance (published after the commit); revoking twice answers the revoked key. */
export async function revokeKey(deps: Pick<Deps, 'db' | 'authenticator'>, accountId: string, accountStatus: string, keyId: string): Promise<ApiKeyRow> {
  const result = await revokeApiKey(deps.db, accountId, keyId);
  if (result.outcome === 'not_found') throw notFound(`No key with id '${keyId}' in this account.`);
  if (result.outcome === 'last_admin') throw conflict('This is the last active admin key; create another admin key before revoking it.');
  // Also after a repeated DELETE: if the first one committed but could not publish, this repairs it.
  await deps.authenticator.keyRevoked(result.row, accountStatus);
  return result.row;
}

export async function revokeKeyResponse(c: Context<AppEnv>, accountId: string, accountStatus: string, keyId: string): Promise<Response> {
  return c.json(publicKey(await revokeKey(c.get('deps'), accountId, accountStatus, keyId)));
}
