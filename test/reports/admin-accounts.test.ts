// Admin reads of accounts (SPEC 4, "Admin"): GET /admin/accounts filters and paging, and one account's
// transactions and usage (same filters and paging as the account routes), scoped to the account named.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';
import { expectBadRequest, insertUsage, newestFirst, rawUsage, recordOf, totalsOf } from './support.js';

const env = useTestGateway();
const admin = (path: string, key = env.gw.adminKey) => env.gw.request('GET', path, { key });

async function grant(accountId: string, amount: number) {
  const response = await env.gw.request('POST', `/admin/accounts/${accountId}/grants`, { key: env.gw.adminKey, body: { amount, reason: 'test', idempotencyKey: randomUUID() } });
  expect(response.status).toBe(201);
}

describe('GET /admin/accounts', () => {
  it('filters by q (name, email or id), status, balance bounds and low balance', async () => {
    const tag = randomUUID().slice(0, 8);
    const create = async (name: string, email: string | undefined, grantTokens: number) => {
      const response = await env.gw.request('POST', '/admin/accounts', { key: env.gw.adminKey, body: { name: `${name} ${tag}`, ...(email ? { email } : {}), grant: grantTokens } });
      expect(response.status).toBe(201);
      return response.body as { id: string };
    };
    const rich = await create('Rich Co', `billing-${tag}@rich.example`, 2_000_000);
    const poor = await create('Poor Co', undefined, 100);
    const mid = await create('Mid Co', `ops-${tag}@mid.example`, 600_000);
    await env.gw.request('PATCH', `/admin/accounts/${mid.id}`, { key: env.gw.adminKey, body: { status: 'suspended' } });
    const ids = async (query: string) => ((await admin(`/admin/accounts?limit=200&${query}`)).body.data as { id: string }[]).map((a) => a.id).sort();

    expect(await ids(`q=${tag}`)).toEqual([rich.id, poor.id, mid.id].sort());
    expect(await ids(`q=RICH%20co%20${tag}`)).toEqual([rich.id]); // name, case-insensitive
    expect(await ids(`q=ops-${tag}`)).toEqual([mid.id]); // email
    expect(await ids(`q=${poor.id}`)).toEqual([poor.id]); // id
    expect(await ids(`q=${tag}%25`)).toEqual([]); // % is a character, not a wildcard
    expect(await ids(`q=${tag}&status=suspended`)).toEqual([mid.id]);
    expect(await ids(`q=${tag}&minBalance=600000`)).toEqual([rich.id, mid.id].sort());
    expect(await ids(`q=${tag}&maxBalance=600000`)).toEqual([poor.id, mid.id].sort());
    expect(await ids(`q=${tag}&lowBalance=true`)).toEqual([poor.id]); // below the 500,000 default threshold
    expectBadRequest(await admin('/admin/accounts?minBalance=lots'), 'minBalance');
    expectBadRequest(await admin('/admin/accounts?status=closed'), 'status');
    expectBadRequest(await admin('/admin/accounts?limit=500'), 'limit');
  });

  it('pages by cursor with no duplicate and no gap while accounts are created between pages', async () => {
    const before = new Set<string>(((await admin('/admin/accounts?limit=200')).body.data as { id: string }[]).map((a) => a.id));
    for (let i = 0; i < 9; i++) await accountWithBalance(env.gw, i);
    const existing = new Set<string>(((await admin('/admin/accounts?limit=200')).body.data as { id: string }[]).map((a) => a.id));
    expect(existing.size).toBeGreaterThan(before.size);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: { id: string }[]; nextCursor: string | null } } = await admin(`/admin/accounts?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.data.map((a) => a.id));
      cursor = page.body.nextCursor;
      await accountWithBalance(env.gw, 1); // written while paging
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of existing) expect(seen).toContain(id);
  });
});

describe("GET /admin/accounts/:id/usage, /usage/summary and /usage/:requestId", () => {
  it("lists, filters, pages and sums one account's usage only; an auditor may read it", async () => {
    const a = await accountWithBalance(env.gw, 10);
    const b = await accountWithBalance(env.gw, 10);
    const rowsA = Array.from({ length: 12 }, (_, i) => rawUsage(a.id, { model: i % 2 ? 'mock' : 'mock-large', createdAt: new Date(Date.UTC(2026, 6, 1) + i * 60_000).toISOString() }));
    const rowsB = Array.from({ length: 4 }, () => rawUsage(b.id));
    await insertUsage(env.sql, [...rowsA, ...rowsB]);
    const auditor = await keyFor(env.gw, b, 'auditor');

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: { id: string }[]; nextCursor: string | null } } = await admin(`/admin/accounts/${a.id}/usage?limit=5${cursor ? `&cursor=${cursor}` : ''}`, auditor);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((r) => r.id));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(newestFirst(rowsA).map((r) => r.id));

    const filtered = await admin(`/admin/accounts/${a.id}/usage?model=mock&to=2026-07-01T00:05:00Z`);
    expect(filtered.body.data).toEqual(newestFirst(rowsA.filter((r) => r.model === 'mock' && r.createdAt < '2026-07-01T00:05:00.000Z')).map(recordOf));
    const summary = await admin(`/admin/accounts/${a.id}/usage/summary?groupBy=model`);
    expect(summary.body.totals).toEqual(totalsOf(rowsA));
    expect((await admin(`/admin/accounts/${a.id}/usage/${rowsA[0]!.id}`)).body).toEqual(recordOf(rowsA[0]!));
    // B's request under A's path is not found: the path's account scopes every read.
    expect((await admin(`/admin/accounts/${a.id}/usage/${rowsB[0]!.id}`)).status).toBe(404);
    expectBadRequest(await admin(`/admin/accounts/${a.id}/usage?from=soon`), 'from');
    expectBadRequest(await admin(`/admin/accounts/${a.id}/usage/summary?groupBy=hour`), 'groupBy');
    expect((await admin('/admin/accounts/acct_missing/usage')).status).toBe(404);
  });

  it("a user key cannot read another account (or its own) through the admin routes", async () => {
    const a = await accountWithBalance(env.gw, 10);
    const b = await accountWithBalance(env.gw, 10);
    const keyA = await keyFor(env.gw, a);
    for (const path of [`/admin/accounts/${b.id}/usage`, `/admin/accounts/${b.id}/usage/summary?groupBy=day`, `/admin/accounts/${b.id}/transactions`, `/admin/accounts/${a.id}/usage`]) {
      expect((await admin(path, keyA)).status, path).toBe(403);
    }
  });
});

describe('GET /admin/accounts/:id/transactions and GET /account/transactions', () => {
  it("lists one account's ledger newest first, filtered by type, paged without duplicates while entries are written", async () => {
    const a = await accountWithBalance(env.gw, 1_000);
    const b = await accountWithBalance(env.gw, 2_000);
    for (let i = 1; i <= 6; i++) await grant(a.id, i * 10);
    await grant(a.id, -5);
    await grant(b.id, 99);
    const ledgerA = await env.sql<{ id: string }[]>`select id::text from ledger_entries where account_id = ${a.id} order by id desc`;

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: { id: number; accountId: string }[]; nextCursor: string | null } } = await admin(`/admin/accounts/${a.id}/transactions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      for (const entry of page.body.data) expect(entry.accountId).toBe(a.id);
      seen.push(...page.body.data.map((e) => String(e.id)));
      cursor = page.body.nextCursor;
      await grant(a.id, 1); // newer than every page: never listed in this walk, never repeated
    } while (cursor !== null);
    expect(seen).toEqual(ledgerA.map((r) => r.id));

    const deductions = await admin(`/admin/accounts/${a.id}/transactions?type=deduction`);
    expect(deductions.body.data.map((e: { type: string; amount: number }) => [e.type, e.amount])).toEqual([['deduction', -5]]);
    expectBadRequest(await admin(`/admin/accounts/${a.id}/transactions?type=bonus`), 'type');
    expectBadRequest(await admin(`/admin/accounts/${a.id}/transactions?cursor=abc`), 'cursor');
    expect((await admin('/admin/accounts/acct_missing/transactions')).status).toBe(404);

    // The account route reads the same listing for the key's own account only.
    const keyB = await keyFor(env.gw, b);
    const own = await env.gw.request('GET', '/account/transactions?limit=200', { key: keyB });
    expect(own.body.data.map((e: { accountId: string }) => e.accountId)).toEqual(own.body.data.map(() => b.id));
    expect(own.body.data.map((e: { amount: number }) => e.amount)).toEqual([99, 2_000]);
    const afterA = await env.gw.request('GET', `/account/transactions?cursor=${ledgerA[0]!.id}`, { key: keyB });
    expect(afterA.body.data.every((e: { accountId: string }) => e.accountId === b.id)).toBe(true);
  });
});
