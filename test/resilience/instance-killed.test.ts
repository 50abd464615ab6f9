// Fault: kill -9 of a gateway process with a stream open. Its running request had recorded progress
// with its hold (the metered-call heartbeat); the surviving instance's sweeper bills that progress once
// the hold expires (status 'interrupted', usage_source 'estimated'), and reconcile is ok.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/gateway-process.js';
import { createTestDatabase, deleteRedisPrefix, REDIS_URL, type TestDatabase } from '../helpers/harness.js';
import { expectEverythingBilledOnce, startGateways, type Pair } from './fault-support.js';

let database: TestDatabase;
let pair: Pair;
let sql: postgres.Sql;
const prefix = `t:killed:${Date.now()}:`;

beforeAll(async () => {
  database = await createTestDatabase();
  pair = await startGateways({ DATABASE_URL: database.url, REDIS_URL, REDIS_PREFIX: prefix, HOLD_TTL_SECONDS: '10', UPSTREAM_TIMEOUT_MS: '9000' });
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
}, 90_000);

afterAll(async () => {
  await sql?.end();
  await pair?.stop();
  await database?.drop();
  await deleteRedisPrefix(prefix);
});

describe('kill -9 of an instance with an open stream', () => {
  it('the survivor bills the delivered part by its recorded progress, once', { timeout: 60_000 }, async () => {
    const account = await pair.account(100_000);
    const [victim, survivor] = pair.gateways as [(typeof pair.gateways)[0], (typeof pair.gateways)[0]];
    const response = await fetch(`${victim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.key}`, 'content-type': 'application/json', 'x-mock-latency-ms': '8000', 'x-mock-chunks': '40', 'x-mock-output-tokens': '200' },
      body: JSON.stringify({ model: 'mock', stream: true, messages: [{ role: 'user', content: 'tell me a long story' }] }),
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id')!;
    const reader = response.body!.getReader();
    for (let received = 0; received < 3; received++) await reader.read(); // some of it is delivered
    await new Promise((resolve) => setTimeout(resolve, 4_000)); // a heartbeat (every 3.3 s here) records progress
    victim.child.kill('SIGKILL');
    await reader.read().catch(() => undefined);

    await eventually('the survivor billed the interrupted stream', async () => (await sql`select 1 from usage_events where id = ${requestId}`).length === 1);
    const [usage] = await sql<[{ status: string; usage_source: string; cost: string; output_tokens: number }]>`
      select status, usage_source, cost, output_tokens from usage_events where id = ${requestId}`;
    expect(usage).toMatchObject({ status: 'interrupted', usage_source: 'estimated' });
    expect(usage.output_tokens).toBeGreaterThan(0);
    expect(Number(usage.cost)).toBeGreaterThan(0);
    await expectEverythingBilledOnce({ ...pair, gateways: [survivor] }, account, database.url, [{ status: 200, requestId, cost: Number(usage.cost) }]);
  });
});
