// One idempotency key is one ledger row whatever its sign, enforced by the database (issue 7, item 4),
// and values Postgres would refuse are a 400 (item 6), through HTTP.
import { describe, expect, it } from 'vitest';
import { accountWithBalance } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';

const t = useTestGateway();

const grant = (accountId: string, body: Record<string, unknown>) =>
  t.gw.request('POST', `/admin/accounts/${accountId}/grants`, { key: t.gw.adminKey, body: { reason: 'test', ...body } });

async function adminRows(accountId: string) {
  return t.sql<{ type: string; amount: string; reference: string }[]>`
    select type, amount, reference from ledger_entries where account_id = ${accountId} and reference like 'admin:%' order by id`;
}

describe('a grant and a deduction sent at once with one idempotencyKey', () => {
  it('write one ledger row: the first wins (201), the other is a 409, in every one of 30 trials', async () => {
    for (let trial = 0; trial < 30; trial++) {
      const account = await accountWithBalance(t.gw, 1_000);
      const key = `sign-race-${trial}`;
      const [plus, minus] = await Promise.all([grant(account.id, { amount: 500, idempotencyKey: key }), grant(account.id, { amount: -300, idempotencyKey: key, allowNegative: true })]);
      expect([plus.status, minus.status].sort(), `trial ${trial}`).toEqual([201, 409]);
      const loser = plus.status === 409 ? plus : minus;
      expect(loser.body.error).toMatchObject({ code: 'conflict', type: 'conflict_error' });
      const rows = await adminRows(account.id);
      expect(rows, `trial ${trial}`).toHaveLength(1);
      const winner = plus.status === 201 ? 500 : -300;
      expect(Number(rows[0]!.amount)).toBe(winner);
      const view = await t.gw.request('GET', `/admin/accounts/${account.id}`, { key: t.gw.adminKey });
      expect(view.body.balance).toBe(1_000 + winner);
    }
  });

  it('the database itself refuses a second row of the other sign for one reference', async () => {
    const account = await accountWithBalance(t.gw, 1_000);
    expect((await grant(account.id, { amount: 500, idempotencyKey: 'db-enforced' })).status).toBe(201);
    await expect(
      t.sql`insert into ledger_entries (account_id, type, amount, balance_after, reference) values (${account.id}, 'deduction', -300, 1200, 'admin:db-enforced')`,
    ).rejects.toMatchObject({ code: '23505' });
    const sequential = await grant(account.id, { amount: -300, idempotencyKey: 'db-enforced' });
    expect(sequential.status).toBe(409);
    expect(sequential.body.error.message).toContain('grant of 500 tokens');
  });
});

describe('values Postgres would refuse', () => {
  it.each([
    ['a NUL in the reason', { reason: 'bonus\u0000' }, 'reason'],
    ['an unpaired surrogate in the reason', { reason: 'bonus \ud800' }, 'reason'],
    ['a NUL in the idempotencyKey', { idempotencyKey: 'k\u0000' }, 'idempotencyKey'],
  ])('%s: 400 naming the field, nothing written', async (_name, body, param) => {
    const account = await accountWithBalance(t.gw, 10);
    const response = await grant(account.id, { amount: 5, idempotencyKey: 'bad-text', ...body });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param });
    expect(await adminRows(account.id)).toEqual([]);
  });

  it('a number out of the column\'s range (SQLSTATE 22003: rpm is a 32-bit column) is a 400, not a 500', async () => {
    const account = await accountWithBalance(t.gw, 10);
    const response = await t.gw.request('POST', `/admin/accounts/${account.id}/keys`, { key: t.gw.adminKey, body: { name: 'fast', rpm: 1e12 } });
    expect(response.status).toBe(400);
    expect(response.body.error.type).toBe('invalid_request_error');
    expect(await t.sql`select id from api_keys where account_id = ${account.id}`).toHaveLength(0);
  });

  it('a NUL in a search text (SQLSTATE 22021) is a 400', async () => {
    const response = await t.gw.request('GET', '/admin/accounts?q=a%00b', { key: t.gw.adminKey });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
  });
});
