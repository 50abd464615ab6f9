// Configuration (SPEC 5, issue 3): loadConfig's checks, what a misconfigured server prints, and the
// zero-config start (embedded PGlite + in-process holds) that prints a bootstrap admin key once.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { freePort } from '../helpers/ports.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const KEY_IN_TEXT = /tg-[A-Za-z0-9_-]{43}/;

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'notaurl'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['REDIS_URL', 'http://x'],
    ['LOG_LEVEL', 'loud'],
    ['OPENAI_BASE_URL', 'api.openai.com'],
    ['HOLD_TTL_SECONDS', '0'],
    ['SHUTDOWN_TIMEOUT_MS', '2147483648'],
    ['DRAIN_AFTER_DISCONNECT_MS', '9999999999'],
  ])('%s=%s throws a ConfigError whose message is one line naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${name} must be `));
    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).not.toMatch(/Invalid (input|option)/); // zod's phrasing is reworded, not pasted
  });

  it('refuses an upstream timeout that a hold would not outlive (the held money could be spent twice)', () => {
    expect(configError({ HOLD_TTL_SECONDS: '60', UPSTREAM_TIMEOUT_MS: '60000' }).message).toBe(
      'Invalid configuration: UPSTREAM_TIMEOUT_MS must be shorter than HOLD_TTL_SECONDS (got 60000 ms and 60 s)',
    );
    expect(configError({ UPSTREAM_TIMEOUT_MS: '900000' }).message).toContain('UPSTREAM_TIMEOUT_MS must be shorter than HOLD_TTL_SECONDS');
    expect(loadConfig({ HOLD_TTL_SECONDS: '60', UPSTREAM_TIMEOUT_MS: '59999' }).UPSTREAM_TIMEOUT_MS).toBe(59_999);
  });

  it('names the bad variable even when others are fine', () => {
    const error = configError({ PORT: '8080', HOST: '127.0.0.1', DATABASE_URL: 'postgres://h/db', LOG_LEVEL: 'loud' });
    expect(error.message).toMatch(/^Invalid configuration: LOG_LEVEL must be one of .*"info".* \(got "loud"\)$/);
  });

  it('never echoes a secret or a password in a URL', () => {
    const badKey = 'tg-short-but-secret-value';
    const keyError = configError({ ADMIN_API_KEY: badKey });
    expect(keyError.message).toMatch(/^Invalid configuration: ADMIN_API_KEY must be /);
    expect(keyError.message).not.toContain('short-but-secret');
    const urlError = configError({ DATABASE_URL: 'mysql://admin:hunter2@db.internal/app' });
    expect(urlError.message).toMatch(/^Invalid configuration: DATABASE_URL must be /);
    expect(urlError.message).not.toContain('hunter2');
    expect(urlError.message).toContain('db.internal');
  });

  it('applies the documented defaults, and treats empty strings as unset', () => {
    const expected = {
      PORT: 8787,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      OPENAI_BASE_URL: 'https://api.openai.com/v1',
      PUBLIC_URL: 'http://localhost:8787',
      LOG_LEVEL: 'info',
    };
    const blank = { PORT: '', HOST: '', DATABASE_URL: '', REDIS_URL: '', ADMIN_API_KEY: '', BILLING_SECRET: '', PUBLIC_URL: '', LOG_LEVEL: '' };
    for (const config of [loadConfig({}), loadConfig(blank)]) {
      expect(config).toMatchObject(expected);
      // Unset: embedded PGlite, in-process holds, a generated admin key, /internal/usage off.
      expect(config.DATABASE_URL).toBeUndefined();
      expect(config.REDIS_URL).toBeUndefined();
      expect(config.ADMIN_API_KEY).toBeUndefined();
      expect(config.BILLING_SECRET).toBeUndefined();
    }
  });

  it('reads valid values', () => {
    const config = loadConfig({
      PORT: '9000',
      DATABASE_URL: 'postgresql://u:p@db:5432/tg',
      REDIS_URL: 'rediss://cache:6380',
      LOG_LEVEL: 'debug',
      ADMIN_API_KEY: `tg-${'a'.repeat(43)}`,
    });
    expect(config).toMatchObject({ PORT: 9000, DATABASE_URL: 'postgresql://u:p@db:5432/tg', REDIS_URL: 'rediss://cache:6380', LOG_LEVEL: 'debug', PUBLIC_URL: 'http://localhost:9000' });
  });
});

// ---------------------------------------------------------------------------------------------
// The server as a process.

interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of pattern in stdout; rejects if the process exits first or time runs out. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

const running = new Set<ServerProcess>();
const tempDirs: string[] = [];

afterAll(async () => {
  for (const server of running) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tokengate-config-'));
  tempDirs.push(dir);
  return dir;
}

function startServer(env: Record<string, string>): ServerProcess {
  // A clean environment: nothing of the developer's DATABASE_URL, REDIS_URL or ADMIN_API_KEY leaks in.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(server);
      resolve({ code, signal });
      for (const listener of listeners) listener();
    });
  });
  const server: ServerProcess = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStdout: (pattern, timeoutMs = 90_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no ${pattern} on stdout within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        const finish = (error: Error | null, match?: RegExpMatchArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve(match!);
        };
        const check = () => {
          const match = pattern.exec(stdout);
          if (match) finish(null, match);
          else if (child.exitCode !== null || child.signalCode !== null) {
            finish(new Error(`server exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; stderr: ${stderr}`));
          }
        };
        listeners.add(check);
        check();
      }),
  };
  running.add(server);
  return server;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}


async function call(base: string, method: string, route: string, key: string, body?: unknown) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- route JSON; the test asserts its shape
  return { status: response.status, body: (await response.json()) as any };
}

describe('a misconfigured server', () => {
  it.each([
    ['PORT', 'abc'],
    ['DATABASE_URL', 'notaurl'],
  ])('%s=%s: exits non-zero at once with exactly one stderr line naming the variable', async (name, value) => {
    const dataDir = path.join(tempDir(), 'never-created');
    const started = Date.now();
    const server = startServer({ [name]: value, DATA_DIR: dataDir, HOST: '127.0.0.1' });
    const { code } = await withTimeout(server.exited, 30_000, 'the misconfigured server exiting');
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(30_000);
    const lines = server.stderr().split('\n').filter((line) => line !== '');
    expect(lines, server.stderr()).toHaveLength(1);
    expect(server.stderr().endsWith('\n')).toBe(true);
    expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${name} must be .*${JSON.stringify(value)}`));
    expect(server.stdout()).toBe('');
    expect(existsSync(dataDir)).toBe(false); // it stopped before touching anything
  });
});

describe('zero-config start: embedded PGlite and in-process holds', () => {
  it('prints a bootstrap admin key once; the key, accounts and balances survive a SIGTERM restart', { timeout: 240_000 }, async () => {
    const dataDir = tempDir();
    const env = { HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' };

    // First start: a key is generated and printed.
    const firstPort = await freePort();
    const first = startServer({ ...env, PORT: String(firstPort) });
    const [key] = await first.waitForStdout(KEY_IN_TEXT);
    const base = `http://127.0.0.1:${firstPort}`;
    expect(first.stdout()).toMatch(/Bootstrap admin key/);

    const list = await call(base, 'GET', '/admin/accounts', key);
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body.data)).toBe(true);

    const created = await call(base, 'POST', '/admin/accounts', key, { name: 'persisted', grant: 1_234 });
    expect(created.status).toBe(201);
    const accountId = created.body.id as string;
    const deduction = await call(base, 'POST', `/admin/accounts/${accountId}/grants`, key, { amount: -34, reason: 'test', idempotencyKey: 'embedded-1' });
    expect(deduction.status).toBe(201);
    expect(deduction.body.balanceAfter).toBe(1_200);
    const readBack = await call(base, 'GET', `/admin/accounts/${accountId}`, key);
    expect(readBack.status).toBe(200);
    expect(readBack.body).toMatchObject({ id: accountId, name: 'persisted', balance: 1_200 });
    expect((await call(base, 'GET', '/admin/reconcile', key)).body.ok).toBe(true);

    first.child.kill('SIGTERM');
    expect(await withTimeout(first.exited, 60_000, 'SIGTERM shutdown')).toEqual({ code: 0, signal: null });
    // The key is in the banner, never in a log line.
    const logLines = first.stdout().split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.some((line) => line.includes('tokengate listening'))).toBe(true);
    expect(logLines.filter((line) => line.includes(key))).toEqual([]);

    // Second start on the same DATA_DIR: no new key; the old key, the account and its balance remain.
    const secondPort = await freePort();
    const second = startServer({ ...env, PORT: String(secondPort) });
    await second.waitForStdout(/tokengate listening/);
    const base2 = `http://127.0.0.1:${secondPort}`;
    const again = await call(base2, 'GET', `/admin/accounts/${accountId}`, key);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: accountId, name: 'persisted', balance: 1_200 });
    const replay = await call(base2, 'POST', `/admin/accounts/${accountId}/grants`, key, { amount: -34, reason: 'test', idempotencyKey: 'embedded-1' });
    expect(replay.status).toBe(200);
    expect(replay.body.replayed).toBe(true);
    expect((await call(base2, 'GET', '/admin/reconcile', key)).body.ok).toBe(true);

    second.child.kill('SIGTERM');
    expect(await withTimeout(second.exited, 60_000, 'SIGTERM shutdown')).toEqual({ code: 0, signal: null });
    expect(second.stdout()).not.toMatch(KEY_IN_TEXT);
    expect(second.stdout()).not.toMatch(/Bootstrap admin key/);
    expect(second.stderr()).toBe('');
  });
});
