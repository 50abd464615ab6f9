// createApp(deps): the HTTP surface. Route groups mount here; every error leaves in OpenAI's shape.
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { dataExceptionMessage, isConnectionError } from './db/errors.js';
import type { Deps } from './deps.js';
import type { AppEnv } from './http/context.js';
import { ApiError, notFound } from './http/errors.js';
import { requestId } from './http/request-id.js';
import { authorize, matchedRoutePath } from './http/access.js';
import { ROUTES } from './routes/catalog.js';
import { registerRoutes } from './routes/index.js';

export const MAX_BODY_BYTES = 8 * 1024 * 1024;

const tooLarge = () => new ApiError(413, 'payload_too_large', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);

/**
 * 413 for bodies over MAX_BODY_BYTES. A declared Content-Length is checked for free; only a body of
 * unknown length goes through Hono's bodyLimit, which wraps the body in a counting web stream (costly
 * on every request, so not used when it is not needed).
 */
function limitBodySize(): MiddlewareHandler<AppEnv> {
  const counting = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw tooLarge(); } });
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return counting(c, next);
    if (Number(length) > MAX_BODY_BYTES) throw tooLarge();
    return next();
  };
}

export function createApp(deps: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    c.set('deps', deps);
    c.set('receivedAt', performance.now());
    await next();
    // By route pattern, not raw path: ids in paths would make one series per account or key.
    deps.metrics.request(c.req.method, matchedRoutePath(c) ?? 'unmatched', c.res.status);
  });
  app.use('*', requestId());
  app.use('*', async (c, next) => {
    // Below info (e.g. LOG_LEVEL=warn) the request line is skipped before any of it is built.
    if (!deps.log.isLevelEnabled('info')) return next();
    const started = performance.now();
    await next();
    deps.log.info(
      { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started), accountId: c.get('auth')?.accountId },
      'request',
    );
  });
  app.use('*', limitBodySize());
  // Who may call each route: the catalog, enforced before any handler runs.
  app.use('*', authorize(ROUTES));

  registerRoutes(app);

  app.notFound((c) => {
    const error = notFound(`No route for ${c.req.method} ${c.req.path}.`);
    return c.json(error.toBody(), 404);
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      return c.json(error.toBody(), error.status);
    }
    if (isStoreUnavailable(error)) {
      deps.metrics.redisError();
      // Balances and holds cannot be checked: refuse rather than serve unmetered; clients retry.
      deps.log.warn({ requestId: c.get('requestId'), reason: error.message }, 'balance store unavailable');
      const unavailable = new ApiError(503, 'service_unavailable', 'The balance store is unavailable; retry shortly.', 'api_error');
      return c.json(unavailable.toBody(), 503, { 'retry-after': '1' });
    }
    const refused = dataExceptionMessage(error);
    if (refused !== undefined) {
      // Postgres refused a value the client sent (NUL in text, a number out of range...): bad input, not
      // our failure. Logged (query parameters redacted by the logger) so a schema that lets it through can be fixed.
      deps.log.warn({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'database refused a value from the request');
      return c.json(new ApiError(400, 'invalid_request', refused).toBody(), 400);
    }
    if (isConnectionError(error)) deps.metrics.postgresError();
    deps.log.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    const internal = new ApiError(500, 'internal_error', `Internal error; quote request id ${c.get('requestId')} when reporting it.`, 'api_error');
    return c.json(internal.toBody(), 500);
  });

  return app;
}

/** ioredis gave up on a command: the server is down or unreachable (not a script or data error). */
function isStoreUnavailable(error: Error): boolean {
  return error.name === 'MaxRetriesPerRequestError' || error.message === 'Connection is closed.' || error.message.startsWith('Stream isn\'t writeable');
}
