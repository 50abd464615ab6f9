// Admin routes for any account's keys: create (any role), list, revoke.
import { Hono } from 'hono';
import { parseBody } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { createAdminKeySchema, createKeyResponse, listKeysResponse, revokeKeyResponse } from '../shared/api-keys.js';
import { requireAccount } from './accounts.js';

export const adminKeys = new Hono<AppEnv>();

adminKeys.post('/accounts/:id/keys', async (c) => {
  const input = await parseBody(c, createAdminKeySchema);
  const account = await requireAccount(c.get('deps').db, c.req.param('id'));
  return createKeyResponse(c, account.id, input);
});

adminKeys.get('/accounts/:id/keys', async (c) => {
  const account = await requireAccount(c.get('deps').db, c.req.param('id'));
  return listKeysResponse(c, account.id);
});

adminKeys.delete('/accounts/:id/keys/:keyId', async (c) => {
  const account = await requireAccount(c.get('deps').db, c.req.param('id'));
  return revokeKeyResponse(c, account.id, account.status, c.req.param('keyId'));
});
