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
});
