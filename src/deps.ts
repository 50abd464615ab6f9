// The one typed bag of services, built once at start and closed once at shutdown.
import { Redis, type RedisOptions } from 'ioredis';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { findAccount } from './accounts/accounts.js';
import { SettingsStore } from './accounts/settings.js';
import { LowBalanceMonitor } from './alerts/monitor.js';
import { LocalSharedCache, RedisSharedCache, type SharedCache } from './accounts/shared-cache.js';
import { MemoryHoldStore } from './billing/holds/memory-store.js';
import { CaptureJournal } from './billing/holds/capture-journal.js';
import { DurableHoldStore } from './billing/holds/durable-store.js';
import { RedisHoldStore } from './billing/holds/redis-store.js';
import type { BalanceLoader, HoldStore } from './billing/holds/types.js';
import { loadPriceTable, type PriceTable } from './billing/price-table.js';
import type { Config } from './config.js';
import { openDatabase, type Database, type Db } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { DatabaseReadGuard } from './db/read-guard.js';
import { seed } from './db/seed.js';
import { KeyAuthenticator } from './http/auth.js';
import { closeTokenizerWorkers, warmTokenizers } from './metering/tokenizer.js';
import { KeyLimiter } from './limits/limiter.js';
import { MemoryLimitStore } from './limits/memory-store.js';
import { RedisLimitStore } from './limits/redis-store.js';
import type { Logger } from './log.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from './billing/idempotency-store.js';
import { createProviderRegistry, type ProviderRegistry } from './providers/registry.js';
import { committedRequestIds, Settler } from './billing/settler.js';
import { heartbeatPeriodMs, InflightCalls } from './billing/metered-call/inflight.js';
import { AutoRecharger } from './stripe/auto-recharge.js';
import { createStripeClient, type StripeClient } from './stripe/client.js';

export interface Deps {
  config: Config;
  log: Logger;
  database: Database;
  db: Db;
  prices: PriceTable;
  settings: SettingsStore;
  authenticator: KeyAuthenticator;
  /** Invalidations between instances and shared last-known values (key cache, settings). */
  shared: SharedCache;
  /** Per-key rpm, tpm and monthly budget: admit before the hold, settle after the capture. */
  limits: KeyLimiter;
  /** Low-balance alerts: checks the accounts of every settled batch, delivers the webhook. */
  alerts: LowBalanceMonitor;
  holds: HoldStore;
  settler: Settler;
  idempotency: IdempotencyStore;
  providers: ProviderRegistry;
  /** Metered calls running in this process: kept alive by one ticker, cut at shutdown. */
  inflight: InflightCalls;
  redis: Redis | null;
  /** null when STRIPE_SECRET_KEY is unset: checkout answers 503, auto-recharge is off. */
  stripe: StripeClient | null;
  autoRecharge: AutoRecharger | null;
  /** This instance's Prometheus registry and metrics (GET /metrics); never the global registry. */
  metrics: GatewayMetrics;
}

/** Opens Postgres (or PGlite), applies migrations, seeds defaults and connects the hold store. */
export async function buildDeps(config: Config, log: Logger): Promise<Deps> {
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const applied = await runMigrations(database);
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  await seed(database.db);

  const metrics = new GatewayMetrics();
  const loadBalance: BalanceLoader = async (accountId) => {
    const account = await findAccount(database.db, accountId);
    if (!account) throw new Error(`Account ${accountId} does not exist`);
    return account.balance;
  };
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, log, metrics) : null;
  const holds: HoldStore = redis ? await durableRedisHolds(config, redis, database, loadBalance, log) : memoryHolds(config, loadBalance);

  const shared = await connectSharedCache(redis, config, log);
  // Reads with a fallback (keys, settings) give Postgres half a second, then answer from what is known.
  const guard = new DatabaseReadGuard({
    onFailure: () => metrics.postgresError(),
    onChange: (state, error) =>
      state === 'down' ? log.warn({ err: error }, 'Postgres reads failing; keys and settings answered from last known values') : log.info('Postgres reads succeed again'),
  });
  const settings = new SettingsStore({ db: database.db, guard, shared, log });
  const settler = new Settler({ db: database.db, holds, log, intervalMs: config.SETTLE_INTERVAL_MS, metrics });
  metrics.observeQueue(() => holds.stats());
  const stripe = createStripeClient(config);
  const autoRecharge = stripe
    ? new AutoRecharger({ db: database.db, holds, stripe, settings, log, retrySeconds: config.AUTO_RECHARGE_RETRY_SECONDS })
    : null;
  if (autoRecharge) settler.onSettled((accountIds) => autoRecharge.onSettled(accountIds));
  const alerts = new LowBalanceMonitor({ db: database.db, holds, settings, log });
  settler.onSettled(alerts.onSettled);

  const prices = loadPriceTable();
  // Loading an encoding takes a few hundred ms: pay it at start, not on the first request.
  warmTokenizers([...new Set(prices.all().flatMap((m) => (m.kind !== 'image' || m.tokenRates ? [m.encoding] : [])))]);
  return {
    config,
    log,
    database,
    db: database.db,
    prices,
    settings,
    authenticator: new KeyAuthenticator({ db: database.db, log, guard, shared }),
    shared,
    limits: new KeyLimiter({
      store: redis ? new RedisLimitStore(redis, config.REDIS_PREFIX) : new MemoryLimitStore(),
      db: database.db,
      guard,
      log,
      reservationTtlMs: config.HOLD_TTL_SECONDS * 1000,
    }),
    holds,
    settler,
    alerts,
    idempotency: redis ? new RedisIdempotencyStore(redis, config.REDIS_PREFIX) : new MemoryIdempotencyStore(),
    providers: createProviderRegistry(config),
    inflight: new InflightCalls(heartbeatPeriodMs(config.HOLD_TTL_SECONDS), log),
    redis,
    stripe,
    autoRecharge,
    metrics,
  };
}

// While Redis is away a command waits for at most ~1 s of reconnecting, then fails: the request
// gets a quick 503 instead of hanging (a balance that cannot be checked is never served).
export const REDIS_CLIENT_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  enableAutoPipelining: true,
};

/** ioredis retries a lost connection by itself; say so once per outage instead of once per retry. */
function connectRedis(url: string, log: Logger, metrics: GatewayMetrics): Redis {
  const redis = new Redis(url, REDIS_CLIENT_OPTIONS);
  let down = false;
  redis.on('error', (error: Error) => {
    metrics.redisError();
    if (!down) log.error({ err: error }, 'Redis connection lost; retrying');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('Redis connection restored');
    down = false;
  });
  return redis;
}

async function connectSharedCache(redis: Redis | null, config: Config, log: Logger): Promise<SharedCache> {
  if (!redis) return new LocalSharedCache(log);
  const shared = new RedisSharedCache(redis, config.REDIS_PREFIX, log);
  await shared.start(); // serve only once revocations from other instances are heard
  return shared;
}

/**
 * Redis holds with a local capture journal under DATA_DIR (one per instance: the journal is locked),
 * replayed at start, after reconnects and when Redis is found to have lost its data.
 */
async function durableRedisHolds(config: Config, redis: Redis, database: Database, loadBalance: BalanceLoader, log: Logger): Promise<HoldStore> {
  const journal = await CaptureJournal.open(path.resolve(config.DATA_DIR, 'capture-journal.jsonl'));
  const store = new DurableHoldStore({
    inner: new RedisHoldStore(redis, { prefix: config.REDIS_PREFIX, loadBalance }),
    redis,
    journal,
    committed: (requestIds) => committedRequestIds(database, requestIds),
    log,
  });
  store.start();
  return store;
}

// The in-process store journals settlements under DATA_DIR so a crash before they reach Postgres loses none.
function memoryHolds(config: Config, loadBalance: BalanceLoader): HoldStore {
  mkdirSync(config.DATA_DIR, { recursive: true });
  return new MemoryHoldStore({ loadBalance, journalFile: path.resolve(config.DATA_DIR, 'settlements.jsonl') });
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.settler.drain();
  await deps.autoRecharge?.close(); // after the drain: its last batches may start a recharge
  await deps.alerts.close();
  await closeTokenizerWorkers();
  await deps.holds.close();
  await deps.shared.close();
  if (deps.redis?.status === 'ready') await deps.redis.quit().catch(() => deps.redis?.disconnect());
  else deps.redis?.disconnect();
  await deps.database.close();
}
