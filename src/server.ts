// Entry point: load config, start the gateway, print the bootstrap admin key once, drain on SIGTERM/SIGINT.
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startGateway } from './gateway.js';
import { createLogger, maskSecrets } from './log.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  const log = createLogger(config.LOG_LEVEL, pino.destination({ sync: false }));

  let gateway;
  try {
    gateway = await startGateway(config, log);
  } catch (error) {
    return fail(`tokengate could not start: ${describe(error)}`);
  }

  const dashboardUrl = `${config.PUBLIC_URL.replace(/\/+$/, '')}/dashboard`;
  if (gateway.bootstrap.created && gateway.bootstrap.source === 'generated') {
    // Printed to stdout once, never logged: this is the only copy of the key.
    process.stdout.write(
      `\n  Bootstrap admin key (shown once, store it now):\n\n    ${gateway.bootstrap.key}\n\n` +
        `  Dashboard: ${dashboardUrl} (sign in with this key)\n\n` +
        `  Try: curl -H "Authorization: Bearer ${gateway.bootstrap.key}" ${gateway.url}/admin/accounts\n\n`,
    );
  } else {
    process.stdout.write(`\n  Dashboard: ${dashboardUrl}\n\n`);
  }

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    gateway
      .stop()
      .then(() => {
        log.info('shutdown complete');
        log.flush();
        process.exit(0);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        log.flush();
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return maskSecrets(`${message}${cause}`.replace(/\s+/g, ' '));
}

function fail(line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(1);
}

await main();
