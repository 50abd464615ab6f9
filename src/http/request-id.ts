// Every response carries x-request-id; it is also the usage row id and the ledger reference.
import type { MiddlewareHandler } from 'hono';
import { newId } from '../lib/ids.js';
import type { AppEnv } from './context.js';

export const requestId = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const id = newId('req', 16);
  c.set('requestId', id);
  await next();
  // Set after the handler so responses built as plain Response objects (the proxy's) carry it too.
  c.res.headers.set('x-request-id', id);
};
