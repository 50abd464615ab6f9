// An admin grant's idempotency key names one posting: replaying it on another account answers 409
// instead of that other account's ledger row (and grants nothing).
import { describe, expect, it } from 'vitest';
import { accountWithBalance } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';

const env = useTestGateway();

describe('grant idempotency keys across accounts', () => {
  it('a key used for account A is a 409 on account B, and B gets nothing', async () => {
    const a = await accountWithBalance(env.gw, 0);
    const b = await accountWithBalance(env.gw, 0);
    const body = { amount: 500, reason: 'welcome', idempotencyKey: 'shared-key-1' };
    const first = await env.gw.request('POST', `/admin/accounts/${a.id}/grants`, { key: env.gw.adminKey, body });
    expect(first.status).toBe(201);
    const other = await env.gw.request('POST', `/admin/accounts/${b.id}/grants`, { key: env.gw.adminKey, body });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
    expect(JSON.stringify(other.body)).not.toContain(a.id);
    expect((await env.gw.request('GET', `/admin/accounts/${b.id}`, { key: env.gw.adminKey })).body.balance).toBe(0);
    const replay = await env.gw.request('POST', `/admin/accounts/${a.id}/grants`, { key: env.gw.adminKey, body });
    expect(replay).toMatchObject({ status: 200, body: { replayed: true, amount: 500 } });
  });
});
