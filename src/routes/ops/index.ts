// Liveness and readiness: /healthz says the process answers, /readyz that Postgres and the hold store do.
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';

export const opsRoutes = new Hono<AppEnv>();

opsRoutes.get('/healthz', (c) => c.json({ status: 'ok' }));

opsRoutes.get('/readyz', async (c) => {
  const { database, holds } = c.get('deps');
  const [postgres, store] = await Promise.allSettled([withTimeout(database.ping()), withTimeout(holds.ping())]);
  const checks = { postgres: postgres.status === 'fulfilled' ? 'ok' : 'down', holds: store.status === 'fulfilled' ? 'ok' : 'down' };
  const ready = checks.postgres === 'ok' && checks.holds === 'ok';
  return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
});

/** A probe must answer quickly: a dependency that does not answer within a second counts as down. */
function withTimeout(check: Promise<void>, ms = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([check, timeout]).finally(() => clearTimeout(timer));
}
