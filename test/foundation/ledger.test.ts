// The Postgres ledger through HTTP (SPEC 2.1-2.3, issue 3): concurrency, idempotent grants, no
// accidental overdraft, append-only rows, OpenAI-shaped input errors and the account's own views.
import { describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway, type TestResponse } from '../helpers/harness.js';

const t = useTestGateway();

interface LedgerRow {
  id: number;
  type: string;
  amount: number;
  balanceAfter: number;
  reference: string;
}

async function ledgerRows(accountId: string): Promise<LedgerRow[]> {
  const rows = await t.sql<{ id: string; type: string; amount: string; balance_after: string; reference: string }[]>`
    select id, type, amount, balance_after, reference from ledger_entries where account_id = ${accountId} order by id`;
  return rows.map((r) => ({ id: Number(r.id), type: r.type, amount: Number(r.amount), balanceAfter: Number(r.balance_after), reference: r.reference }));
}

async function storedBalance(accountId: string): Promise<number> {
  const [row] = await t.sql<{ balance: string }[]>`select balance from accounts where id = ${accountId}`;
  if (!row) throw new Error(`account ${accountId} is not in Postgres`);
  return Number(row.balance);
}

async function ledgerCount(): Promise<number> {
  const [row] = await t.sql<{ n: string }[]>`select count(*) as n from ledger_entries`;
  return Number(row!.n);
}

function grant(accountId: string, body: Record<string, unknown>): Promise<TestResponse> {
  return t.gw.request('POST', `/admin/accounts/${accountId}/grants`, { key: t.gw.adminKey, body: { reason: 'test', ...body } });
}

/** OpenAI's error shape: exactly {error:{message,type,code,param}}. */
function expectOpenAIError(response: TestResponse, status: number, code: string, param: string | null = null) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(response.body.error.code).toBe(code);
  expect(response.body.error.param).toBe(param);
  expect(typeof response.body.error.type).toBe('string');
  expect(response.body.error.message).toEqual(expect.any(String));
  expect(response.body.error.message.length).toBeGreaterThan(10);
}

function expectRunningSums(rows: LedgerRow[]) {
  let running = 0;
  for (const row of rows) {
    running += row.amount;
    expect(row.balanceAfter, `balance_after of ledger row ${row.id}`).toBe(running);
  }
  return running;
}

describe('ledger under concurrency', () => {
  it('200 concurrent grants and deductions keep balance == sum(ledger) and a correct running balance', async () => {
    const opening = 1_000;
    const account = await accountWithBalance(t.gw, opening);
    // Grants of 10..50 and deductions of 100..300: deductions outweigh grants, so some of them can
    // legitimately be refused when they would take the balance below zero.
    const postings = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 10 + (i % 41) : -(100 + ((i * 37) % 201))));
    const responses = await Promise.all(postings.map((amount, i) => grant(account.id, { amount, idempotencyKey: `burst-${i}` })));

    let accepted = 0;
    let acceptedSum = 0;
    responses.forEach((response, i) => {
      if (response.status === 201) {
        accepted += 1;
        acceptedSum += postings[i]!;
        expect(response.body.amount).toBe(postings[i]);
        expect(response.body.replayed).toBe(false);
        expect(response.body.balanceAfter).toBeGreaterThanOrEqual(0);
      } else {
        expect(postings[i]!, `only deductions may be refused (#${i}: ${JSON.stringify(response.body)})`).toBeLessThan(0);
        expectOpenAIError(response, 402, 'insufficient_balance');
      }
    });
    // Every grant is accepted, and so is at least the first deduction (the balance starts at 1,000).
    const grants = postings.filter((a) => a > 0).length;
    expect(responses.filter((r, i) => r.status === 201 && postings[i]! > 0)).toHaveLength(grants);
    expect(accepted).toBeGreaterThan(grants);

    const rows = await ledgerRows(account.id);
    const balance = await storedBalance(account.id);
    expect(rows).toHaveLength(accepted + 1); // + the opening grant
    expect(rows.reduce((sum, r) => sum + r.amount, 0)).toBe(balance);
    expect(balance).toBe(opening + acceptedSum);
    expect(balance).toBeGreaterThanOrEqual(0);
    expect(expectRunningSums(rows)).toBe(balance);
    expect(rows.every((r) => r.balanceAfter >= 0)).toBe(true);
    const [total] = await t.sql<{ sum: string }[]>`select sum(amount) as sum from ledger_entries where account_id = ${account.id}`;
    expect(Number(total!.sum)).toBe(balance);

    const reconcile = await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey });
    expect(reconcile.status).toBe(200);
    expect(reconcile.body.ok).toBe(true);
    expect(reconcile.body.mismatches).toEqual([]);

    const view = await t.gw.request('GET', `/admin/accounts/${account.id}`, { key: t.gw.adminKey });
    expect(view.status).toBe(200);
    expect(view.body.balance).toBe(balance);
  });

  it('/admin/reconcile reports a balance that disagrees with its ledger', async () => {
    const account = await accountWithBalance(t.gw, 50);
    await t.sql`update accounts set balance = balance + 1 where id = ${account.id}`;
    try {
      const reconcile = await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey });
      expect(reconcile.status).toBe(200);
      expect(reconcile.body.ok).toBe(false);
      expect(reconcile.body.mismatches).toContainEqual(expect.objectContaining({ accountId: account.id, balance: 51, ledgerSum: 50 }));
    } finally {
      await t.sql`update accounts set balance = balance - 1 where id = ${account.id}`;
    }
    const again = await t.gw.request('GET', '/admin/reconcile', { key: t.gw.adminKey });
    expect(again.body.ok).toBe(true);
  });
});

describe('idempotent grants', () => {
  it('replaying a grant returns the first entry and changes nothing; another amount or sign is a 409', async () => {
    const account = await accountWithBalance(t.gw, 100);
    const first = await grant(account.id, { amount: 500, idempotencyKey: 'replay-me' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ accountId: account.id, type: 'grant', amount: 500, balanceAfter: 600, replayed: false });
    const rowsBefore = await ledgerRows(account.id);
    expect(rowsBefore).toHaveLength(2);

    const replay = await grant(account.id, { amount: 500, idempotencyKey: 'replay-me' });
    expect(replay.status).toBe(200);
    expect(replay.body.replayed).toBe(true);
    expect(replay.body.id).toBe(first.body.id);
    expect(replay.body.balanceAfter).toBe(600);
    expect({ ...replay.body, replayed: false }).toEqual(first.body);

    const otherAmount = await grant(account.id, { amount: 600, idempotencyKey: 'replay-me' });
    expectOpenAIError(otherAmount, 409, 'conflict');
    const otherSign = await grant(account.id, { amount: -500, idempotencyKey: 'replay-me' });
    expectOpenAIError(otherSign, 409, 'conflict');

    expect(await ledgerRows(account.id)).toEqual(rowsBefore);
    expect(await storedBalance(account.id)).toBe(600);
  });

  it('20 concurrent replays of one new key write exactly one ledger row', async () => {
    const account = await accountWithBalance(t.gw, 0);
    const responses = await Promise.all(Array.from({ length: 20 }, () => grant(account.id, { amount: 77, idempotencyKey: 'race-key' })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(18).fill(200), 201].sort());
    expect(responses.filter((r) => r.body.replayed === false)).toHaveLength(1);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);

    const rows = await ledgerRows(account.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'grant', amount: 77, balanceAfter: 77, reference: 'admin:race-key' });
    expect(await storedBalance(account.id)).toBe(77);
  });

  it('one idempotencyKey on two accounts does not move money on the second', async () => {
    const a = await accountWithBalance(t.gw, 0);
    const b = await accountWithBalance(t.gw, 0);
    expect((await grant(a.id, { amount: 10, idempotencyKey: 'shared-key' })).status).toBe(201);
    const other = await grant(b.id, { amount: 10, idempotencyKey: 'shared-key' });
    expect(other.status).toBe(409);
    expect(await ledgerRows(b.id)).toEqual([]);
    expect(await storedBalance(b.id)).toBe(0);
  });
});

describe('deductions', () => {
  it('a deduction below zero is refused with 402 and changes nothing; allowNegative lets it through', async () => {
    const account = await accountWithBalance(t.gw, 100);
    const rowsBefore = await ledgerRows(account.id);

    const refused = await grant(account.id, { amount: -101, idempotencyKey: 'too-much' });
    expectOpenAIError(refused, 402, 'insufficient_balance');
    expect(refused.body.error.type).toBe('insufficient_quota');
    expect(refused.body.error.message).toContain('allowNegative');
    expect(await ledgerRows(account.id)).toEqual(rowsBefore);
    expect(await storedBalance(account.id)).toBe(100);

    const exact = await grant(account.id, { amount: -100, idempotencyKey: 'exactly-all' });
    expect(exact.status).toBe(201);
    expect(exact.body).toMatchObject({ type: 'deduction', amount: -100, balanceAfter: 0 });

    const allowed = await grant(account.id, { amount: -25, idempotencyKey: 'too-much', allowNegative: true });
    expect(allowed.status).toBe(201);
    expect(allowed.body).toMatchObject({ type: 'deduction', amount: -25, balanceAfter: -25, replayed: false });
    expect(await storedBalance(account.id)).toBe(-25);

    const view = await t.gw.request('GET', `/admin/accounts/${account.id}`, { key: t.gw.adminKey });
    expect(view.body.balance).toBe(-25);
    const rows = await ledgerRows(account.id);
    expect(rows).toHaveLength(3);
    expect(expectRunningSums(rows)).toBe(-25);
  });
});

describe('append-only ledger', () => {
  it('UPDATE, DELETE and TRUNCATE of ledger_entries fail at the database and leave the rows as they were', async () => {
    const account = await accountWithBalance(t.gw, 300);
    await grant(account.id, { amount: -20, idempotencyKey: 'append-only' });
    const snapshot = await t.sql`select * from ledger_entries order by id`;
    expect(snapshot.length).toBeGreaterThan(1);

    await expect(t.sql`update ledger_entries set amount = 0`).rejects.toThrow(/append-only/);
    await expect(t.sql`update ledger_entries set metadata = '{}' where account_id = ${account.id}`).rejects.toThrow(/append-only/);
    await expect(t.sql`delete from ledger_entries`).rejects.toThrow(/append-only/);
    await expect(t.sql`delete from ledger_entries where account_id = ${account.id}`).rejects.toThrow(/append-only/);
    await expect(t.sql`truncate ledger_entries`).rejects.toThrow(/append-only/);

    expect(await t.sql`select * from ledger_entries order by id`).toEqual(snapshot);
  });
});

describe('grant input', () => {
  it('bad input is a 400 (or 404 for an unknown account) in OpenAI shape, naming the field, and writes nothing', async () => {
    const account = await accountWithBalance(t.gw, 10);
    const before = await ledgerCount();

    expectOpenAIError(await t.gw.request('POST', `/admin/accounts/${account.id}/grants`, { key: t.gw.adminKey, body: { amount: 5, reason: 'x' } }), 400, 'invalid_request', 'idempotencyKey');
    expectOpenAIError(await grant(account.id, { amount: 0, idempotencyKey: 'zero' }), 400, 'invalid_request', 'amount');
    expectOpenAIError(await grant(account.id, { amount: 1.5, idempotencyKey: 'fraction' }), 400, 'invalid_request', 'amount');
    expectOpenAIError(await grant(account.id, { amount: '5', idempotencyKey: 'string' }), 400, 'invalid_request', 'amount');
    expectOpenAIError(await grant(account.id, { amount: 2 ** 60, idempotencyKey: 'huge' }), 400, 'invalid_request', 'amount');
    expectOpenAIError(await t.gw.request('POST', `/admin/accounts/${account.id}/grants`, { key: t.gw.adminKey, body: '{"amount": 5,' }), 400, 'invalid_request');
    expectOpenAIError(await grant('acct_doesnotexist', { amount: 5, idempotencyKey: 'ghost' }), 404, 'not_found');

    expect(await ledgerCount()).toBe(before);
    expect(await storedBalance(account.id)).toBe(10);
  });
});

describe('the account routes of a user key', () => {
  it('GET /account and /account/transactions show only the key owner\'s account, paged newest first', async () => {
    const mine = await accountWithBalance(t.gw, 1_000, 'mine');
    const theirs = await accountWithBalance(t.gw, 5_000, 'theirs');
    for (const [i, amount] of [300, -200, 40, -15, 7].entries()) {
      expect((await grant(mine.id, { amount, idempotencyKey: `mine-${i}` })).status).toBe(201);
    }
    expect((await grant(theirs.id, { amount: -1, idempotencyKey: 'theirs-0' })).status).toBe(201);
    const key = await keyFor(t.gw, mine);

    const account = await t.gw.request('GET', '/account', { key });
    expect(account.status).toBe(200);
    expect(account.body).toMatchObject({ id: mine.id, name: 'mine', status: 'active', balance: 1_132, held: 0, available: 1_132 });

    // Page through with limit=2: every entry exactly once, newest first.
    const seen: { id: number; accountId: string; type: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: TestResponse = await t.gw.request('GET', `/account/transactions?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data);
      cursor = page.body.nextCursor;
      pages += 1;
      expect(pages).toBeLessThan(10);
    } while (cursor !== null);
    const expected = (await ledgerRows(mine.id)).map((r) => r.id).reverse();
    expect(expected).toHaveLength(6);
    expect(seen.map((e) => e.id)).toEqual(expected);
    expect(pages).toBe(3);
    expect(seen.every((e) => e.accountId === mine.id)).toBe(true);

    const deductions = await t.gw.request('GET', '/account/transactions?type=deduction', { key });
    expect(deductions.status).toBe(200);
    expect(deductions.body.data.map((e: { amount: number }) => e.amount)).toEqual([-15, -200]);
    expect(deductions.body.data.every((e: { type: string; accountId: string }) => e.type === 'deduction' && e.accountId === mine.id)).toBe(true);
    expect(deductions.body.nextCursor).toBeNull();

    expectOpenAIError(await t.gw.request('GET', '/account/transactions?type=bogus', { key }), 400, 'invalid_request', 'type');

    // The other account's key sees the other account only.
    const theirKey = await keyFor(t.gw, theirs);
    const theirAccount = await t.gw.request('GET', '/account', { key: theirKey });
    expect(theirAccount.body).toMatchObject({ id: theirs.id, balance: 4_999 });
    const theirEntries = await t.gw.request('GET', '/account/transactions', { key: theirKey });
    expect(theirEntries.body.data.map((e: { accountId: string }) => e.accountId)).toEqual([theirs.id, theirs.id]);
    // A cursor from another account's ids does not reveal them.
    const crafted = await t.gw.request('GET', `/account/transactions?cursor=${expected[0]! + 1}`, { key: theirKey });
    expect(crafted.body.data.every((e: { accountId: string }) => e.accountId === theirs.id)).toBe(true);
  });
});
