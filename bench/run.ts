// npm run bench: throughput and latency of POST /v1/chat/completions through tokengate, next to the
// same requests sent straight to a stub upstream ("direct") and through a bare Node proxy ("bare"),
// in one run on one machine. Then proves the load lost no billing (usage rows vs responses served,
// /admin/reconcile, no hold left open). See bench/README.md for the setup and how to read the table.
//
// Processes: this one only drives load (autocannon) and checks; the stub upstream, the bare proxy and
// the gateway (the real entry point, src/server.ts) each run in their own child process, so none of
// them shares an event loop with the load generator or with another server.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { generateApiKey } from '../src/accounts/api-keys.js';
import { allShards, shardBase } from '../src/billing/holds/redis-keys.js';
import { createTestDatabase, deleteRedisPrefix, REDIS_URL, type TestDatabase } from '../test/helpers/harness.js';
import { clockTicksPerSecond, machineTicks, processRssMiB, processSyscalls, processTicks, ticksOfCommand, ticksSince, type MachineTicks } from './proc-stats.js';
import { summarizeProfile } from './profile-summary.js';
import { freePort } from '../test/helpers/ports.js';
import { chatBody } from './chat-body.js';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The checkout whose src/server.ts is measured; another one (with its own node_modules) makes an A/B of a change. */
const GATEWAY_ROOT = path.resolve(process.env.BENCH_GATEWAY_DIR ?? ROOT);
const PROFILE_DIR = path.join(ROOT, 'bench', 'profiles');

const settings = {
  durationSeconds: positiveEnv('BENCH_DURATION', 10),
  warmupSeconds: positiveEnv('BENCH_WARMUP', 2),
  connections: positiveEnv('BENCH_CONNECTIONS', 32),
  /** Also measure GET /healthz and GET /v1/models on the gateway: the cost of the HTTP stack and of auth alone. */
  extras: process.env.BENCH_EXTRAS !== '0' && process.env.BENCH_PROFILE !== '1', // a profile is of the chat runs only
  /** Run the gateway under node --cpu-prof and print its top self-time functions at the end. */
  profile: process.env.BENCH_PROFILE === '1',
};

const MODES = ['non-stream', 'stream'] as const;
type Mode = (typeof MODES)[number];
type TargetName = 'direct' | 'bare' | 'gateway';

const bodyFor = (mode: Mode) => chatBody(mode === 'stream');

interface Target {
  name: TargetName;
  origin: string;
  /** The process that does this hop's work (the stub itself for direct). */
  pid: number;
}

interface Row {
  target: TargetName;
  mode: string;
  result: autocannon.Result;
  rps: number;
  cpu: CpuShare | null;
  /** Settlements captured but not yet in Postgres when the run ended (gateway chat runs). */
  backlogAtEnd?: number;
  /** Resident memory of the gateway after the run. */
  gatewayRssMiB?: number | null;
}

/** CPU per completed request, in microseconds, by who spent it. */
interface CpuShare {
  hopUs: number | null;
  /** read/write-family system calls of the hop process per request (socket reads and writes, mostly). */
  hopSyscalls: number | null;
  stubUs: number;
  loadgenUs: number;
  postgresUs: number;
  redisUs: number;
  /** Cores kept busy by everything else (the kernel, other programs on the machine), on average over the run. */
  restCores: number;
  machineBusyPct: number;
}

/** What clients received from the gateway, per mode, and how many autocannon runs produced it. */
interface Served {
  ok: number;
  other: number;
  runs: number;
}

/** Everything a run has started, so the steps below share it and the cleanup can stop it. */
interface Setup {
  targets: Target[];
  stubPid: number;
  gateway: ChildProcess;
  gatewayOrigin: string;
  adminKey: string;
  userKey: string;
  headers: Record<string, string>;
  grantTokens: number;
}

const children: ChildProcess[] = [];

async function main(): Promise<number> {
  const rowsPlanned = MODES.length * 3 + (settings.extras ? 2 : 0);
  const watchdog = setTimeout(() => {
    process.stderr.write('bench: watchdog fired (the run took far longer than planned); killing children\n');
    killChildren();
    process.exit(3);
  }, ((settings.warmupSeconds + settings.durationSeconds) * rowsPlanned + 300) * 1000);
  watchdog.unref();

  printMachine();
  await printBackgroundLoad();
  const database = await createTestDatabase();
  const redisPrefix = `bench:${randomUUID().slice(0, 8)}:`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tokengate-bench-'));
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  let gateway: ChildProcess | undefined;
  let servedTotal = 0; // gateway chat responses, for the profile's per-request figure
  try {
    const setup = await startServers(database, redisPrefix, dataDir, (child) => (gateway = child));
    const served: Record<Mode, Served> = { 'non-stream': { ok: 0, other: 0, runs: 0 }, stream: { ok: 0, other: 0, runs: 0 } };
    for (const target of setup.targets) {
      for (const mode of MODES) {
        await sanityCheck(target, mode, setup.headers);
        if (target.name === 'gateway') served[mode].ok += 1; // billed like any other request
      }
    }
    // The settlement queue is one Redis stream per shard (src/billing/holds/redis-keys.ts).
    const settleStream = allShards().map((shard) => `${shardBase(redisPrefix, shard)}:settle`);
    const rssBefore = processRssMiB(setup.gateway.pid!);
    const rows = await measureChat(setup, served, redis, settleStream);
    if (settings.extras) rows.push(...(await measureExtras(setup)));

    console.log('');
    printTable(rows);
    printRatios(rows);
    printCpuTable(rows);
    printGatewayState(rows, rssBefore, processRssMiB(setup.gateway.pid!));

    servedTotal = MODES.reduce((sum, mode) => sum + served[mode].ok + served[mode].other, 0);
    await waitSettled(redis, settleStream);
    return (await checkBilling(database, served, setup)) ? 0 : 1;
  } finally {
    redis.disconnect();
    if (gateway) await stopGateway(gateway);
    killChildren();
    printGatewayLog();
    if (settings.profile) printProfile(servedTotal);
    await database.drop().catch((error: unknown) => console.error(`bench: could not drop ${database.name}: ${String(error)}`));
    await deleteRedisPrefix(redisPrefix).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Stub, bare proxy and gateway, each in its own process; then an account with a huge balance and a user key. */
async function startServers(database: TestDatabase, redisPrefix: string, dataDir: string, onGateway: (child: ChildProcess) => void): Promise<Setup> {
  const stub = await startNodeChild('stub', path.join(ROOT, 'bench', 'upstream-stub.ts'), {});
  const stubOrigin = `http://127.0.0.1:${stub.port}`;
  const bare = await startNodeChild('bare', path.join(ROOT, 'bench', 'bare-proxy.ts'), { UPSTREAM_URL: stubOrigin });
  const adminKey = generateApiKey();
  const gatewayPort = await freePort();
  const gateway = startGateway(database, redisPrefix, adminKey, dataDir, gatewayPort, `${stubOrigin}/v1`);
  onGateway(gateway);
  const gatewayOrigin = `http://127.0.0.1:${gatewayPort}`;
  await waitForHealth(gatewayOrigin, gateway);

  const grantTokens = 1_000_000_000_000;
  const account = (await adminCall(gatewayOrigin, adminKey, 'POST', '/admin/accounts', { name: 'bench', grant: grantTokens })) as { id: string };
  const { key: userKey } = (await adminCall(gatewayOrigin, adminKey, 'POST', `/admin/accounts/${account.id}/keys`, { name: 'bench user', role: 'user' })) as { key: string };
  return {
    targets: [
      { name: 'direct', origin: stubOrigin, pid: stub.child.pid! },
      { name: 'bare', origin: `http://127.0.0.1:${bare.port}`, pid: bare.child.pid! },
      { name: 'gateway', origin: gatewayOrigin, pid: gateway.pid! },
    ],
    stubPid: stub.child.pid!,
    gateway,
    gatewayOrigin,
    adminKey,
    userKey,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${userKey}` },
    grantTokens,
  };
}

/** Each mode, each target: warm-up, then the measured run. Gateway runs are counted for the billing check. */
async function measureChat(setup: Setup, served: Record<Mode, Served>, redis: Redis, settleStream: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of MODES) {
    for (const target of setup.targets) {
      const options = { url: `${target.origin}/v1/chat/completions`, method: 'POST' as const, headers: setup.headers, body: bodyFor(mode) };
      const warm = await cannon(options, settings.warmupSeconds);
      const { result, cpu } = await measured(target, setup.stubPid, () => cannon(options, settings.durationSeconds));
      const row: Row = { target: target.name, mode, result, rps: result.requests.total / result.duration, cpu };
      if (target.name === 'gateway') {
        for (const run of [warm, result]) {
          served[mode].ok += run['2xx'];
          served[mode].other += run.non2xx;
          served[mode].runs += 1;
        }
        row.backlogAtEnd = await backlogOf(redis, settleStream);
        row.gatewayRssMiB = processRssMiB(setup.gateway.pid!);
        await waitSettled(redis, settleStream); // the next run starts with an empty queue
      }
      rows.push(row);
      progress(row);
    }
  }
  return rows;
}

/** The gateway's floor: its HTTP stack alone (/healthz) and with key authentication (/v1/models). */
async function measureExtras(setup: Setup): Promise<Row[]> {
  const rows: Row[] = [];
  const gateway = setup.targets.find((t) => t.name === 'gateway')!;
  for (const [mode, route] of [['GET /healthz', '/healthz'], ['GET /v1/models', '/v1/models']] as const) {
    const options = { url: `${setup.gatewayOrigin}${route}`, headers: setup.headers };
    await cannon(options, settings.warmupSeconds);
    const { result, cpu } = await measured(gateway, setup.stubPid, () => cannon(options, settings.durationSeconds));
    const row: Row = { target: 'gateway', mode, result, rps: result.requests.total / result.duration, cpu, gatewayRssMiB: processRssMiB(setup.gateway.pid!) };
    rows.push(row);
    progress(row);
  }
  return rows;
}

function printGatewayState(rows: Row[], rssBefore: number | null, rssAfter: number | null): void {
  const rss = rows.filter((r) => r.gatewayRssMiB !== undefined).map((r) => `${r.gatewayRssMiB ?? '?'}`);
  console.log(`\ngateway resident memory: ${rssBefore ?? '?'} MiB before the runs, after each gateway run ${rss.join(', ')} MiB; ${rssAfter ?? '?'} MiB at the end`);
  const backlog = rows.filter((r) => r.backlogAtEnd !== undefined).map((r) => `${r.mode} ${r.backlogAtEnd}`);
  console.log(`settlement backlog when each gateway chat run ended: ${backlog.join(', ')} (captured, not yet in Postgres; drained before the next run)`);
}

function positiveEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer (got ${JSON.stringify(raw)})`);
  return value;
}

function printMachine(): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`tokengate bench — ${new Date().toISOString()}`);
  console.log(`machine: ${availableParallelism()} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, node ${process.version}, ${process.platform}`);
  console.log(
    `load: autocannon, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured per row; ` +
      'model gpt-4o-mini, 2 short messages, max_tokens 64',
  );
  console.log('processes: load generator (this one) | stub upstream | bare proxy | gateway (src/server.ts) — one each; Postgres and Redis are real');
  if (GATEWAY_ROOT !== ROOT) console.log(`gateway measured from ${GATEWAY_ROOT} (BENCH_GATEWAY_DIR)`);
}

// ---- child processes -------------------------------------------------------------------------

/** Starts a bench server under tsx and waits for the port it reports over IPC. */
function startNodeChild(name: string, file: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before listening`)));
    child.once('message', (message: { port?: number }) => {
      clearTimeout(timer);
      if (typeof message.port === 'number') resolve({ child, port: message.port });
      else reject(new Error(`${name} sent an unexpected message: ${JSON.stringify(message)}`));
    });
  });
}

function startGateway(database: TestDatabase, redisPrefix: string, adminKey: string, dataDir: string, port: number, openaiBaseUrl: string): ChildProcess {
  const nodeFlags = settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  if (settings.profile) {
    rmSync(PROFILE_DIR, { recursive: true, force: true });
    mkdirSync(PROFILE_DIR, { recursive: true });
  }
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(GATEWAY_ROOT, 'src', 'server.ts')], {
    cwd: GATEWAY_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      ADMIN_API_KEY: adminKey,
      OPENAI_BASE_URL: openaiBaseUrl,
      OPENAI_API_KEY: 'sk-bench',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', tallyGatewayLine);
  }
  return child;
}

const PINO_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const gatewayLog = new Map<string, number>();

/** The gateway logs at warn: count its lines by kind instead of flooding the table; pass other text through. */
function tallyGatewayLine(line: string): void {
  let entry: { level?: number; msg?: string; err?: { type?: string; message?: string } };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    process.stderr.write(`[gateway] ${line}\n`);
    return;
  }
  // Group by the first line of the error: messages go on with per-request details (SQL parameters, ids).
  const error = entry.err ? ` (${entry.err.type ?? 'Error'}: ${(entry.err.message ?? '').split('\n', 1)[0]!.slice(0, 160)})` : '';
  const kind = `${PINO_LEVELS[entry.level ?? 0] ?? entry.level} "${entry.msg ?? ''}"${error}`;
  gatewayLog.set(kind, (gatewayLog.get(kind) ?? 0) + 1);
}

function printGatewayLog(): void {
  if (gatewayLog.size === 0) {
    console.log('\ngateway log (LOG_LEVEL=warn): no lines');
    return;
  }
  console.log('\ngateway log (LOG_LEVEL=warn), lines by kind:');
  for (const [kind, count] of [...gatewayLog].sort((a, b) => b[1] - a[1])) console.log(`  ${String(count).padStart(6)} x ${kind}`);
}


async function waitForHealth(origin: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with code ${child.exitCode} while starting`);
    try {
      const response = await fetch(`${origin}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error('the gateway did not answer /healthz within 90 s');
}

/** SIGTERM makes the gateway drain its settlements and exit (and write its CPU profile). */
async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  await exited;
  clearTimeout(timer);
}

function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

// ---- load ------------------------------------------------------------------------------------

function cannon(options: Pick<autocannon.Options, 'url' | 'method' | 'headers' | 'body'>, seconds: number): Promise<autocannon.Result> {
  return autocannon({ ...options, connections: settings.connections, duration: seconds });
}

/** Runs `load` and attributes the machine's CPU ticks over it to the processes involved. */
async function measured(target: Target, stubPid: number, load: () => Promise<autocannon.Result>): Promise<{ result: autocannon.Result; cpu: CpuShare | null }> {
  const hopPid = target.name === 'direct' ? null : target.pid;
  const before = snapshot(hopPid, stubPid);
  const result = await load();
  const after = snapshot(hopPid, stubPid);
  return { result, cpu: cpuShare(before, after, result.requests.total) };
}

interface Snapshot {
  machine: MachineTicks | null;
  hop: number | null;
  hopSyscalls: number | null;
  stub: number | null;
  loadgenUs: number;
  postgres: Map<number, number>;
  redis: Map<number, number>;
  wallMs: number;
}

function snapshot(hopPid: number | null, stubPid: number): Snapshot {
  const usage = process.cpuUsage();
  return {
    machine: machineTicks(),
    hop: hopPid === null ? null : processTicks(hopPid),
    hopSyscalls: hopPid === null ? null : processSyscalls(hopPid),
    stub: processTicks(stubPid),
    loadgenUs: usage.user + usage.system,
    // Read-only looks at /proc: how much the database and Redis servers worked for this run.
    postgres: ticksOfCommand('postgres'),
    redis: ticksOfCommand('redis-server'),
    wallMs: performance.now(),
  };
}

function cpuShare(before: Snapshot, after: Snapshot, requests: number): CpuShare | null {
  if (!before.machine || !after.machine || before.stub === null || after.stub === null || requests === 0) return null;
  const usPerTick = 1_000_000 / clockTicksPerSecond();
  const hopUs = before.hop !== null && after.hop !== null ? (after.hop - before.hop) * usPerTick : null;
  const stubUs = (after.stub - before.stub) * usPerTick;
  const loadgenUs = after.loadgenUs - before.loadgenUs;
  const postgresUs = ticksSince(before.postgres, after.postgres) * usPerTick;
  const redisUs = ticksSince(before.redis, after.redis) * usPerTick;
  const busyUs = (after.machine.busy - before.machine.busy) * usPerTick;
  const totalUs = (after.machine.total - before.machine.total) * usPerTick;
  return {
    hopUs: hopUs === null ? null : hopUs / requests,
    hopSyscalls: before.hopSyscalls !== null && after.hopSyscalls !== null ? (after.hopSyscalls - before.hopSyscalls) / requests : null,
    stubUs: stubUs / requests,
    loadgenUs: loadgenUs / requests,
    postgresUs: postgresUs / requests,
    redisUs: redisUs / requests,
    restCores: Math.max(0, busyUs - (hopUs ?? 0) - stubUs - loadgenUs - postgresUs - redisUs) / ((after.wallMs - before.wallMs) * 1000),
    machineBusyPct: totalUs > 0 ? (100 * busyUs) / totalUs : 0,
  };
}

async function sanityCheck(target: Target, mode: Mode, headers: Record<string, string>): Promise<void> {
  const response = await fetch(`${target.origin}/v1/chat/completions`, { method: 'POST', headers, body: bodyFor(mode) });
  const text = await response.text();
  const fail = (why: string) => {
    throw new Error(`sanity check failed for ${target.name} ${mode}: ${why} (status ${response.status}: ${text.slice(0, 300)})`);
  };
  if (response.status !== 200) fail('expected 200');
  if (mode === 'stream') {
    if (!text.endsWith('data: [DONE]\n\n')) fail('the stream does not end with data: [DONE]');
    // The client did not ask for usage, so the gateway must strip the usage chunk it asked for itself.
    if (target.name === 'gateway' && text.includes('"choices":[]')) fail('the usage chunk reached a client that did not ask for it');
  } else {
    if (!(JSON.parse(text) as { choices?: unknown[] }).choices?.length) fail('no choices in the completion');
    if (target.name === 'gateway' && !response.headers.get('x-tokengate-cost')) fail('no x-tokengate-cost header');
  }
}

async function backlogOf(redis: Redis, streams: string[]): Promise<number> {
  const lengths = await Promise.all(streams.map((stream) => redis.xlen(stream)));
  return lengths.reduce((sum, length) => sum + length, 0);
}

async function waitSettled(redis: Redis, streams: string[]): Promise<void> {
  // The gateway's settler moves the queue into Postgres every 50 ms; an empty queue, twice 300 ms
  // apart (requests cut off when a run stopped still settle), means all is settled.
  const deadline = Date.now() + 60_000;
  for (let empty = 0; empty < 2; ) {
    if (Date.now() > deadline) throw new Error('settlements still queued 60 s after the load stopped');
    empty = (await backlogOf(redis, streams)) === 0 ? empty + 1 : 0;
    await sleep(empty === 0 ? 100 : 300);
  }
}

// ---- billing ---------------------------------------------------------------------------------

/**
 * Every response a client received must be a usage row and a ledger row. Requests cut off when a run
 * stops (at most `connections` per run) may also be billed (the provider served them), so the rows
 * may exceed the 2xx count by that much but never fall below it.
 */
async function checkBilling(database: TestDatabase, served: Record<Mode, Served>, setup: Setup): Promise<boolean> {
  const { gatewayOrigin: origin, adminKey, userKey, grantTokens } = setup;
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  let ok = true;
  try {
    const usage = await sql<{ stream: boolean; status: string; rows: string; cost: string }[]>`
      select stream, status, count(*) as rows, coalesce(sum(cost), 0) as cost from usage_events group by stream, status order by stream, status`;
    const [ledger] = await sql<{ rows: string; amount: string }[]>`
      select count(*) as rows, coalesce(sum(amount), 0) as amount from ledger_entries where type = 'usage'`;
    const [balance] = await sql<{ balance: string }[]>`select balance from accounts where name = 'bench'`;

    console.log('\nbilling (gateway chat runs, warm-up included):');
    for (const mode of MODES) {
      const stream = mode === 'stream';
      const mine = usage.filter((u) => u.stream === stream);
      const okRows = Number(mine.find((u) => u.status === 'ok')?.rows ?? 0);
      const allRows = mine.reduce((sum, u) => sum + Number(u.rows), 0);
      const slack = served[mode].runs * settings.connections;
      const lost = Math.max(0, served[mode].ok - okRows);
      const extra = allRows - served[mode].ok;
      const good = lost === 0 && extra <= slack + served[mode].other;
      ok &&= good;
      const statuses = mine.map((u) => `${u.status} ${u.rows}`).join(', ');
      console.log(
        `  ${mode.padEnd(10)} responses served (2xx) ${served[mode].ok}, non-2xx ${served[mode].other}; usage rows ${allRows} (${statuses}); ` +
          `unbilled responses ${lost}; rows beyond 2xx ${extra} (allowed <= ${slack}: requests cut off when a run stopped) -> ${good ? 'OK' : 'FAIL'}`,
      );
    }
    const usageRows = usage.reduce((sum, u) => sum + Number(u.rows), 0);
    const usageCost = usage.reduce((sum, u) => sum + Number(u.cost), 0);
    const ledgerMatches = Number(ledger!.rows) === usageRows && -Number(ledger!.amount) === usageCost;
    const balanceMatches = Number(balance!.balance) === grantTokens - usageCost;
    ok &&= ledgerMatches && balanceMatches;
    console.log(`  ledger usage rows ${ledger!.rows} for ${usageRows} usage rows, ${-Number(ledger!.amount)} tokens debited for ${usageCost} billed -> ${ledgerMatches ? 'OK' : 'FAIL'}`);
    console.log(`  account balance ${balance!.balance} = grant ${grantTokens} - billed ${usageCost} -> ${balanceMatches ? 'OK' : 'FAIL'}`);
  } finally {
    await sql.end();
  }

  const reconcile = (await adminCall(origin, adminKey, 'GET', '/admin/reconcile')) as { ok: boolean; mismatches: unknown[] };
  ok &&= reconcile.ok;
  console.log(`  /admin/reconcile ok: ${reconcile.ok}${reconcile.ok ? '' : ` ${JSON.stringify(reconcile.mismatches).slice(0, 500)}`}`);
  const account = (await (await fetch(`${origin}/account`, { headers: { authorization: `Bearer ${userKey}` } })).json()) as { held: number; balance: number };
  ok &&= account.held === 0;
  console.log(`  holds left open: ${account.held} tokens -> ${account.held === 0 ? 'OK' : 'FAIL'}`);
  console.log(`billing check: ${ok ? 'PASS' : 'FAIL'}`);
  return ok;
}

async function adminCall(origin: string, adminKey: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${origin}${route}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

// ---- output ----------------------------------------------------------------------------------

function progress(row: Row): void {
  process.stderr.write(`  done: ${row.target} ${row.mode}: ${Math.round(row.rps)} req/s, p50 ${row.result.latency.p50} ms\n`);
}

function printTable(rows: Row[]): void {
  printMarkdownTable(
    ['target', 'mode', 'RPS', 'p50 ms', 'p99 ms', 'errors', 'non-2xx'],
    rows.map((row) => [
      row.target,
      row.mode,
      String(Math.round(row.rps)),
      String(row.result.latency.p50),
      String(row.result.latency.p99),
      String(row.result.errors + row.result.timeouts),
      String(row.result.non2xx),
    ]),
  );
}

/** Where each run's CPU went, per completed request: the evidence for "where the time goes". */
function printCpuTable(rows: Row[]): void {
  const us = (value: number | null | undefined) => (value === null || value === undefined ? '-' : String(Math.round(value)));
  console.log('\nCPU per completed request (µs), by process, over each measured run:');
  printMarkdownTable(
    ['target', 'mode', 'hop', 'hop syscalls', 'stub', 'loadgen', 'postgres', 'redis', 'rest (cores)', 'machine busy'],
    rows.map((row) => [
      row.target,
      row.mode,
      us(row.cpu?.hopUs),
      row.cpu?.hopSyscalls == null ? '-' : row.cpu.hopSyscalls.toFixed(1),
      us(row.cpu?.stubUs),
      us(row.cpu?.loadgenUs),
      us(row.cpu?.postgresUs),
      us(row.cpu?.redisUs),
      row.cpu ? row.cpu.restCores.toFixed(2) : '-',
      row.cpu ? `${Math.round(row.cpu.machineBusyPct)}%` : '-',
    ]),
  );
  console.log(
    'hop = the process under test (bare proxy or gateway; for direct the stub is the only server, see stub); hop syscalls = its ' +
      'read/write-family system calls per request; loadgen = autocannon (this process); rest = cores kept busy on average by the ' +
      'kernel and every other process on the machine (background work skews the row); machine busy = share of all cores in use.',
  );
}

function printMarkdownTable(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((w, i) => (i < 2 ? `-${'-'.repeat(w)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

/** Other work on the machine skews every row; say how busy it was before the bench started. */
async function printBackgroundLoad(): Promise<void> {
  const before = machineTicks();
  await sleep(2000);
  const after = machineTicks();
  if (!before || !after) return;
  const busyPct = (100 * (after.busy - before.busy)) / Math.max(1, after.total - before.total);
  console.log(`machine busy before the bench started (2 s sample): ${Math.round(busyPct)}%${busyPct > 10 ? ' — other work is running; expect noisy numbers' : ''}\n`);
}

function printRatios(rows: Row[]): void {
  const find = (target: TargetName, mode: Mode) => rows.find((r) => r.target === target && r.mode === mode);
  console.log('\nratios (gateway / bare, gateway / direct):');
  for (const mode of MODES) {
    const [direct, bare, gw] = [find('direct', mode), find('bare', mode), find('gateway', mode)];
    if (!direct || !bare || !gw) continue;
    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
    console.log(
      `  ${mode.padEnd(10)} RPS ${ratio(gw.rps, bare.rps)}x bare, ${ratio(gw.rps, direct.rps)}x direct; ` +
        `p50 ${ratio(gw.result.latency.p50, bare.result.latency.p50)}x bare, ${ratio(gw.result.latency.p50, direct.result.latency.p50)}x direct`,
    );
  }
  const [bare, gw] = [find('bare', 'non-stream'), find('gateway', 'non-stream')];
  if (bare && gw) {
    const ratio = gw.rps / bare.rps;
    console.log(`target (gateway non-stream RPS >= 0.5x bare): ${ratio.toFixed(2)}x -> ${ratio >= 0.5 ? 'MET' : 'NOT MET'}`);
  }
}

function printProfile(chatRequests: number): void {
  const files = existsSync(PROFILE_DIR) ? readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) {
    console.log('\nno CPU profile was written (did the gateway exit cleanly?)');
    return;
  }
  // Two profiles: the main thread, and tsx's module-loader thread (startup only). The window starts at
  // the first chat request, so start-up (migrations, tiktoken loading, compiling) is left out.
  for (const file of files) {
    const summary = summarizeProfile(path.join(PROFILE_DIR, file), { top: 30, from: 'handleChatCompletion', requests: chatRequests });
    if (summary !== null) console.log(`\n${summary}`);
  }
  console.log(`\n(full profiles in ${path.relative(ROOT, PROFILE_DIR)}/: open them in Chrome DevTools > Performance)`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A crash or Ctrl-C must not leave servers behind.
process.once('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killChildren();
    process.exit(1);
  },
);
