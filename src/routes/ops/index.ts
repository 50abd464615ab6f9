// Liveness and readiness (/healthz: the process answers; /readyz: Postgres and the hold store do),
// Prometheus metrics, and the API reference.
import { Hono } from 'hono';
import type { AppEnv } from '../../http/context.js';
import { referenceRoutes } from './reference.js';

export const opsRoutes = new Hono<AppEnv>();

opsRoutes.get('/healthz', (c) => c.json({ status: 'ok' }));

// This instance's metrics; behind an admin or auditor key (route catalog), as token counts per model are business data.
opsRoutes.get('/metrics', async (c) => {
  const { text, contentType } = await c.get('deps').metrics.expose();
  return c.body(text, 200, { 'content-type': contentType });
});

opsRoutes.route('/', referenceRoutes);

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
