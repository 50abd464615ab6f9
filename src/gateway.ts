// Starts a gateway: services, bootstrap admin, HTTP server. Used by src/server.ts and by the tests.
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { ensureBootstrapAdmin, type BootstrapResult } from './accounts/bootstrap-admin.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { buildDeps, closeDeps, type Deps } from './deps.js';
import type { AppEnv } from './http/context.js';
import type { Logger } from './log.js';

export interface RunningGateway {
  url: string;
  port: number;
  deps: Deps;
  /** The Hono app it serves (its registered routes are what the route catalog must cover). */
  app: Hono<AppEnv>;
  bootstrap: BootstrapResult;
  /** Stops accepting, finishes in-flight requests, drains settlements, closes pools. */
  stop(): Promise<void>;
}

export async function startGateway(config: Config, log: Logger): Promise<RunningGateway> {
  const deps = await buildDeps(config, log);
  const bootstrap = await ensureBootstrapAdmin(deps.db, config.ADMIN_API_KEY);
  deps.settler.start();
  const app = createApp(deps);
  const server = await listen(app.fetch, config.PORT, config.HOST);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  log.info({ port, database: deps.database.kind, holds: deps.redis ? 'redis' : 'in-process' }, `tokengate listening on ${url}`);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Requests still running when the shutdown deadline nears are cut and billed for what they
      // delivered, leaving time to write their settlements before the process must exit.
      const cutTimer = setTimeout(() => void deps.inflight.cutAll(), cutAfterMs(config.SHUTDOWN_TIMEOUT_MS));
      try {
        await closeServer(server);
      } finally {
        clearTimeout(cutTimer);
      }
      await closeDeps(deps);
    })());
  return { url, port, deps, app, bootstrap, stop };
}

/** When to cut running calls during shutdown: a few seconds (at most a third) before the deadline. */
export function cutAfterMs(shutdownTimeoutMs: number): number {
  return shutdownTimeoutMs - Math.min(5_000, Math.floor(shutdownTimeoutMs / 3));
}

/**
 * Stops accepting and waits for in-flight requests. Connections that turn idle after close() (a
 * keep-alive connection whose stream just ended) are closed as they go idle, not after keepAliveTimeout.
 */
async function closeServer(server: ServerType): Promise<void> {
  const http = server as import('node:http').Server;
  const closed = new Promise<void>((resolve) => http.close(() => resolve()));
  const sweep = setInterval(() => http.closeIdleConnections(), 100);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
  }
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], port: number, hostname: string): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, () => resolve(server));
    server.once('error', reject);
  });
}
