// SPEC 2.5: on shutdown the gateway stops accepting, lets in-flight streams finish, and settles them
// into Postgres before it closes its pools.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});

afterAll(async () => {
  await gw.database.drop();
});

describe('graceful shutdown', () => {
  it('finishes an in-flight stream and settles it before closing', async () => {
    const account = await accountWithBalance(gw, 50_000);
    const key = await keyFor(gw, account);
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-latency-ms': '600', 'x-mock-chunks': '6' },
      body: JSON.stringify({ model: 'mock', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id')!;
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);

    const stopped = gw.stop({ keepDatabase: true }); // SIGTERM's path, while the stream is mid-way
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
    await stopped;

    expect(text).toContain('data: [DONE]');
    const sql = postgres(gw.database.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ status: string; output_tokens: number; cost: string }[]>`
        select status, output_tokens, cost from usage_events where id = ${requestId}`;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.status).toBe('ok');
      expect(rows[0]!.output_tokens).toBeGreaterThan(0);
      const ledger = await sql<{ amount: string }[]>`select amount from ledger_entries where reference = ${requestId} and type = 'usage'`;
      expect(ledger.map((l) => Number(l.amount))).toEqual([-Number(rows[0]!.cost)]);
    } finally {
      await sql.end();
    }
  });

  it('cuts a stream still running when the shutdown deadline nears, bills what it delivered, and leaves no hold', async () => {
    // Cut after 2 s, a second before the deadline: room for the settlement on a busy machine.
    const short = await startTestGateway({ env: { SHUTDOWN_TIMEOUT_MS: '3000' } });
    const account = await accountWithBalance(short, 50_000);
    const key = await keyFor(short, account);
    const response = await fetch(`${short.url}/v1/chat/completions`, {
      method: 'POST',
      // Eight chunks over a minute: far longer than the shutdown may take.
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-latency-ms': '60000', 'x-mock-chunks': '8' },
      body: JSON.stringify({ model: 'mock', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    const requestId = response.headers.get('x-request-id')!;
    const reader = response.body!.getReader();
    await reader.read(); // the role chunk: the stream is running

    const startedStopping = Date.now();
    const stopped = short.stop({ keepDatabase: true });
    const clientSaw = await drain(reader);
    await stopped;
    expect(Date.now() - startedStopping).toBeLessThan(3_000); // within SHUTDOWN_TIMEOUT_MS, not killed at it
    // Cut short: the stream ends with an error event, never as if complete.
    expect(clientSaw).toContain('"code":"shutting_down"');
    expect(clientSaw).not.toContain('[DONE]');

    const sql = postgres(short.database.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ status: string; usage_source: string; input_tokens: number; cost: string }[]>`
        select status, usage_source, input_tokens, cost from usage_events where id = ${requestId}`;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'interrupted', usage_source: 'estimated' });
      expect(rows[0]!.input_tokens).toBeGreaterThan(0);
      const ledger = await sql<{ amount: string }[]>`select amount from ledger_entries where reference = ${requestId} and type = 'usage'`;
      expect(ledger.map((l) => Number(l.amount))).toEqual([-Number(rows[0]!.cost)]);
    } finally {
      await sql.end();
      await short.database.drop();
    }
  });
});

describe('graceful shutdown of a non-stream call', () => {
  it('a call still waiting for its answer at the deadline is cut: 503 shutting_down, the prompt billed as interrupted', async () => {
    const short = await startTestGateway({ env: { SHUTDOWN_TIMEOUT_MS: '1500' } });
    const account = await accountWithBalance(short, 50_000);
    const key = await keyFor(short, account);
    const pending = fetch(`${short.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-latency-ms': '60000' },
      body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hello' }] }),
    });
    await until(() => short.gateway.deps.inflight.size === 1);
    const stopped = short.stop({ keepDatabase: true });
    const response = await pending;
    await stopped;
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('shutting_down');

    const sql = postgres(short.database.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ status: string; usage_source: string; output_tokens: number }[]>`
        select status, usage_source, output_tokens from usage_events where id = ${response.headers.get('x-request-id')!}`;
      expect(rows).toEqual([{ status: 'interrupted', usage_source: 'estimated', output_tokens: 0 }]);
    } finally {
      await sql.end();
      await short.database.drop();
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
  return text;
}
