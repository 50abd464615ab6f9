// GET/POST/DELETE /account/keys: the caller's own account only. A key that carries limits may list
// keys but not create or revoke them: otherwise it could mint itself an unlimited sibling.
import { Hono } from 'hono';
import { parseBody } from '../../http/body.js';
import type { AppEnv, AuthContext } from '../../http/context.js';
import { forbidden } from '../../http/errors.js';
import { createKeyResponse, createOwnKeySchema, listKeysResponse, revokeKeyResponse } from '../shared/api-keys.js';

export const accountKeys = new Hono<AppEnv>();

/** The rule the dashboard's key page follows too. */
export function requireUnrestricted(auth: AuthContext): void {
  const { rpm, tpm, budgetTokens, models, expiresAt } = auth.key;
  if (rpm !== null || tpm !== null || budgetTokens !== null || models !== null || expiresAt !== null) {
    throw forbidden('A key with limits (rpm, tpm, budget, models or expiry) cannot create or revoke keys; use an unrestricted key.');
  }
}

accountKeys.get('/keys', (c) => listKeysResponse(c, c.get('auth').accountId));

accountKeys.post('/keys', async (c) => {
  requireUnrestricted(c.get('auth'));
  const input = await parseBody(c, createOwnKeySchema);
  return createKeyResponse(c, c.get('auth').accountId, { ...input, role: 'user' });
});

accountKeys.delete('/keys/:id', (c) => {
  requireUnrestricted(c.get('auth'));
  // The caller authenticated, so its account is active.
  return revokeKeyResponse(c, c.get('auth').accountId, 'active', c.req.param('id'));
});
