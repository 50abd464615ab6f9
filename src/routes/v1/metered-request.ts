// The request as the metered-call lifecycle sees it, built from the Hono context.
import type { Context } from 'hono';
import type { MeteredRequest } from '../../billing/metered-call/index.js';
import type { AppEnv } from '../../http/context.js';

export async function meteredRequest(c: Context<AppEnv>): Promise<MeteredRequest> {
  return {
    requestId: c.get('requestId'),
    auth: c.get('auth'),
    rawBody: await c.req.text(),
    header: (name) => c.req.header(name),
    clientSignal: c.req.raw.signal,
    receivedAt: c.get('receivedAt'),
  };
}
