// SPEC 2.5: a served request is billed even when the hold store fails between reserve and capture —
// the settlement goes straight into Postgres — and exactly once.
import { describe, expect, it } from 'vitest';
import type { HoldStore } from '../../src/billing/holds/types.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';

const t = useTestGateway();

describe('capture fallback', () => {
  it('writes the settlement to Postgres when capture fails, and never twice', async () => {
    const account = await accountWithBalance(t.gw, 10_000);
    const key = await keyFor(t.gw, account);
    const holds: HoldStore = t.gw.gateway.deps.holds;
    const capture = holds.capture.bind(holds);
    holds.capture = async () => {
      throw new Error('Connection is closed.'); // Redis lost between reserve and capture
    };
    let response;
    try {
      response = await t.gw.request('POST', '/v1/chat/completions', { key, body: { model: 'mock', messages: [{ role: 'user', content: 'hi' }] } });
    } finally {
      holds.capture = capture;
    }
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id')!;
    const cost = Number(response.headers.get('x-tokengate-cost'));
    expect(cost).toBeGreaterThan(0);
    expect(Number(response.headers.get('x-tokengate-balance'))).toBe(10_000 - cost);

    // Already in Postgres, before any settler run; a later settler run adds nothing.
    const ledger = () => t.sql<{ amount: string }[]>`select amount from ledger_entries where reference = ${requestId} and type = 'usage'`;
    expect((await ledger()).map((r) => Number(r.amount))).toEqual([-cost]);
    while ((await t.gw.gateway.deps.settler.flushOnce()) > 0);
    expect((await ledger()).map((r) => Number(r.amount))).toEqual([-cost]);

    const view = await t.gw.request('GET', '/account', { key });
    expect(view.body).toMatchObject({ balance: 10_000 - cost, held: 0 });
    expect((await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey })).body.ok).toBe(true);
  });
});
