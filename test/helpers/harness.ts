// Test harness: a real gateway on a random port, against real Postgres (a fresh database per
// gateway) and real Redis (a fresh key prefix per gateway). Nothing is mocked but the upstreams.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { generateApiKey } from '../../src/accounts/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

export const PG_ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty database for one test file (or one gateway) and drops it afterwards. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tg_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await client.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface TestGatewayOptions {
  /** Extra or overriding environment variables. */
  env?: Record<string, string | undefined>;
  /** 'redis' (default) or 'memory' for the in-process hold store. */
  holds?: 'redis' | 'memory';
  /** Receives every log line the gateway writes (JSON text). */
  onLogLine?: (line: string) => void;
  /** Reuse a database (e.g. to restart a gateway on the same data). */
  database?: TestDatabase;
  /**
   * Share another gateway's Redis key prefix (with `database`: a second instance of one deployment).
   * The gateway that created a prefix deletes it when it stops; one that borrowed it leaves it.
   */
  redisPrefix?: string;
}

export interface TestGateway {
  url: string;
  adminKey: string;
  gateway: RunningGateway;
  database: TestDatabase;
  redisPrefix: string;
  /** fetch against the gateway with a key; JSON bodies are serialised. */
  request(method: string, path: string, options?: { key?: string; body?: unknown; headers?: Record<string, string> }): Promise<TestResponse>;
  stop(options?: { keepDatabase?: boolean }): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON of any route; tests assert its shape
  body: any;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const database = options.database ?? (await createTestDatabase());
  const redisPrefix = options.redisPrefix ?? `t:${randomUUID().slice(0, 8)}:`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tokengate-test-'));
  const adminKey = generateApiKey();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    REDIS_URL: options.holds === 'memory' ? undefined : REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    DATA_DIR: dataDir,
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: options.onLogLine ? 'debug' : 'silent',
    ...options.env,
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) options.onLogLine?.(line);
      done();
    },
  });
  const gateway = await startGateway(config, createLogger(config.LOG_LEVEL, sink));
  const request: TestGateway['request'] = async (method, route, { key, body, headers } = {}) => {
    const response = await fetch(`${gateway.url}${route}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed };
  };
  return {
    url: gateway.url,
    adminKey,
    gateway,
    database,
    redisPrefix,
    request,
    stop: async ({ keepDatabase = false } = {}) => {
      await gateway.stop();
      if (!options.redisPrefix) await deleteRedisPrefix(redisPrefix);
      rmSync(dataDir, { recursive: true, force: true });
      if (!keepDatabase) await database.drop();
    },
  };
}

/**
 * For a test file: a gateway started before its tests and stopped after, and a Postgres client on its
 * database for reading what the gateway wrote. Read both through the returned object.
 */
export function useTestGateway(options: TestGatewayOptions = {}): { readonly gw: TestGateway; readonly sql: postgres.Sql } {
  let gw: TestGateway | undefined;
  let sql: postgres.Sql | undefined;
  beforeAll(async () => {
    gw = await startTestGateway(options);
    sql = postgres(gw.database.url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await gw?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test gateway starts in beforeAll');
    return value;
  };
  return {
    get gw() {
      return started(gw);
    },
    get sql() {
      return started(sql);
    },
  };
}
