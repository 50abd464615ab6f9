// CPU cost of each step of the chat request flow, measured alone in this process against real Redis
// and Postgres, so the gateway's per-request CPU (bench/run.ts) can be split into parts that a change
// in src/ would move. The upstream HTTP call has its own script: bench/upstream-client.ts.
// Run: npx tsx bench/phases.ts   (env: PHASE_REQUESTS, default 10000; PHASE_CONCURRENCY, default 32)
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createAccount } from '../src/accounts/accounts.js';
import { hashApiKey, generateApiKey } from '../src/accounts/api-keys.js';
import { RedisHoldStore } from '../src/billing/holds/redis-store.js';
import { Settler } from '../src/billing/settler.js';
import { REDIS_CLIENT_OPTIONS } from '../src/deps.js';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { seed } from '../src/db/seed.js';
import { newId } from '../src/lib/ids.js';
import { createLogger } from '../src/log.js';
import { loadPriceTable } from '../src/billing/price-table.js';
import { measurePrompt, warmTokenizers, type PromptBody } from '../src/metering/tokenizer.js';
import { chatRequestSchema } from '../src/proxy/chat-request.js';
import { createTestDatabase, deleteRedisPrefix, REDIS_URL } from '../test/helpers/harness.js';
import { clockTicksPerSecond, ticksOfCommand, ticksSince } from './proc-stats.js';
import { settlementFor } from '../test/helpers/settlements.js';
import { chatBody } from './chat-body.js';

const REQUESTS = Number(process.env.PHASE_REQUESTS ?? 10_000);
const CONCURRENCY = Number(process.env.PHASE_CONCURRENCY ?? 32);
const RAW_BODY = chatBody();
const GPT_4O_MINI = loadPriceTable().chat('gpt-4o-mini')!;

interface Cost {
  phase: string;
  count: number;
  selfUs: number;
  redisUs: number;
  postgresUs: number;
}

async function cost(phase: string, count: number, work: () => Promise<void>): Promise<Cost> {
  const usPerTick = 1_000_000 / clockTicksPerSecond();
  const [redisBefore, postgresBefore] = [ticksOfCommand('redis-server'), ticksOfCommand('postgres')];
  const cpuBefore = process.cpuUsage();
  await work();
  const cpu = process.cpuUsage(cpuBefore);
  return {
    phase,
    count,
    selfUs: (cpu.user + cpu.system) / count,
    redisUs: (ticksSince(redisBefore, ticksOfCommand('redis-server')) * usPerTick) / count,
    postgresUs: (ticksSince(postgresBefore, ticksOfCommand('postgres')) * usPerTick) / count,
  };
}

async function concurrently(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) await task(i);
    }),
  );
}

/** What the proxy queues for one gpt-4o-mini request of RAW_BODY's size. */
const gptSettlement = (accountId: string, requestId: string) =>
  settlementFor(accountId, 10, { requestId, model: 'gpt-4o-mini', provider: 'openai', inputTokens: 24, outputTokens: 10, rates: { input: 150000, cachedInput: 75000, output: 600000, per: 1_000_000 } });

async function main(): Promise<void> {
  const testDatabase = await createTestDatabase();
  const prefix = `bench-phases:${randomUUID().slice(0, 8)}:`;
  const database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/nonexistent' });
  const redis = new Redis(REDIS_URL, REDIS_CLIENT_OPTIONS); // as the gateway connects
  try {
    await runMigrations(database);
    await seed(database.db);
    const account = await createAccount(database.db, { name: 'phases', openingGrantTokens: 1_000_000_000_000 });
    const holds = new RedisHoldStore(redis, { prefix, loadBalance: async () => account.balance });
    const log = createLogger('silent', new Writable({ write: (_chunk, _encoding, done) => done() }));
    const settler = new Settler({ db: database.db, holds, log, intervalMs: 50 });
    warmTokenizers(['o200k_base']);
    const key = generateApiKey();
    const results: Cost[] = [];

    // Warm-up so the JIT and the connections are ready before anything is measured.
    for (let i = 0; i < 2000; i++) chatRequestSchema.safeParse(JSON.parse(RAW_BODY));
    const parsed = chatRequestSchema.parse(JSON.parse(RAW_BODY)) as unknown as PromptBody;

    results.push(
      await cost('request id + API key sha256', REQUESTS, async () => {
        for (let i = 0; i < REQUESTS; i++) {
          newId('req', 16);
          hashApiKey(key);
        }
      }),
    );
    results.push(
      await cost('body: JSON.parse + zod chatRequestSchema', REQUESTS, async () => {
        for (let i = 0; i < REQUESTS; i++) chatRequestSchema.safeParse(JSON.parse(RAW_BODY));
      }),
    );
    results.push(
      await cost('prompt estimate (tiktoken, inline)', REQUESTS, async () => {
        for (let i = 0; i < REQUESTS; i++) await measurePrompt(parsed, GPT_4O_MINI).count();
      }),
    );
    results.push(
      await cost('prompt bound (UTF-8 bytes; the hold far from the balance)', REQUESTS, async () => {
        for (let i = 0; i < REQUESTS; i++) void measurePrompt(parsed, GPT_4O_MINI).boundTokens;
      }),
    );
    const ids = Array.from({ length: REQUESTS }, () => newId('req', 16));
    results.push(
      await cost('holds: reserve + capture (2 Lua scripts on Redis)', REQUESTS, () =>
        concurrently(REQUESTS, async (i) => {
          await holds.reserve({ accountId: account.id, holdId: ids[i]!, amountTokens: 50, minimumTokens: 50, ttlSeconds: 900 });
          await holds.capture(ids[i]!, gptSettlement(account.id, ids[i]!));
        }),
      ),
    );
    // Half the queue in batches of 25 (what one 50 ms tick finds at ~500 requests/s), half in batches of 500.
    const small = new Settler({ db: database.db, holds, log, intervalMs: 50, batchSize: 25 });
    const half = Math.floor(REQUESTS / 2);
    results.push(
      await cost('settle: claim + Postgres batch + ack (Settler.flushOnce, 25 a batch)', half, async () => {
        for (let settled = 0; settled < half; ) settled += await small.flushOnce();
      }),
    );
    results.push(
      await cost('settle: claim + Postgres batch + ack (Settler.flushOnce, 500 a batch)', REQUESTS - half, async () => {
        while ((await settler.flushOnce()) > 0);
      }),
    );

    console.log(`gateway steps measured alone: ${REQUESTS} requests, ${CONCURRENCY} at a time where they wait on I/O; node ${process.version}\n`);
    console.log('| step | this process µs/request | redis µs/request | postgres µs/request |');
    console.log('|---|---:|---:|---:|');
    for (const r of results) console.log(`| ${r.phase} | ${Math.round(r.selfUs)} | ${Math.round(r.redisUs)} | ${Math.round(r.postgresUs)} |`);
  } finally {
    redis.disconnect();
    await database.close();
    await testDatabase.drop();
    await deleteRedisPrefix(prefix);
  }
}

await main();
process.exit(0); // tiktoken and pools hold no work any more; do not wait for idle timers
