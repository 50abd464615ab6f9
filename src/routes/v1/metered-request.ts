// The request as the metered-call lifecycle sees it, built from the Hono context.
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { connectionOf, connectionOfSignal } from '../../billing/metered-call/client-connection.js';
import type { MeteredRequest } from '../../billing/metered-call/index.js';
import type { AppEnv } from '../../http/context.js';

export async function meteredRequest(c: Context<AppEnv>): Promise<MeteredRequest> {
  // On Node's server the response's close event tells a departed client: c.req.raw.signal would
  // build an AbortController for every request.
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  return {
    requestId: c.get('requestId'),
    auth: c.get('auth'),
    rawBody: await c.req.text(),
    header: (name) => c.req.header(name),
    client: outgoing ? connectionOf(outgoing) : connectionOfSignal(c.req.raw.signal),
    receivedAt: c.get('receivedAt'),
  };
}
