// GET /account/usage, /account/usage/summary, /account/usage/:requestId (SPEC 4, "Account"): filters,
// keyset paging while rows are written, validation, and tenant isolation, through HTTP.
import { describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';
import { expectBadRequest, groupBy, insertUsage, newestFirst, rawUsage, recordOf, totalsOf, type RawUsage } from './support.js';

const env = useTestGateway();

async function accountWithKey() {
  const account = await accountWithBalance(env.gw, 1_000);
  const key = await keyFor(env.gw, account);
  const [row] = await env.sql<{ id: string }[]>`select id from api_keys where account_id = ${account.id} and role = 'user'`;
  return { account, key, keyId: row!.id };
}

const get = (path: string, key: string) => env.gw.request('GET', path, { key });

/** Follows nextCursor to the end; `between` runs after each page (to write rows meanwhile). */
async function allPages(path: string, key: string, between: (page: number) => Promise<void> = async () => {}) {
  const seen: { id: string }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const separator = path.includes('?') ? '&' : '?';
    const response = await get(cursor ? `${path}${separator}cursor=${cursor}` : path, key);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    seen.push(...(response.body.data as { id: string }[]));
    cursor = response.body.nextCursor as string | null;
    if (cursor === null) return seen;
    await between(page);
  }
  throw new Error('too many pages');
}

describe('GET /account/usage', () => {
  it('lists the account rows newest first, with every field, filtered by model, operation, key and time', async () => {
    const { account, key, keyId } = await accountWithKey();
    const rows: RawUsage[] = [];
    for (let i = 0; i < 24; i++) {
      rows.push(
        rawUsage(account.id, {
          model: i % 3 === 0 ? 'mock-large' : 'mock',
          operation: i % 4 === 0 ? 'refine-content' : i % 4 === 1 ? 'summarize' : null,
          keyId: i % 2 === 0 ? keyId : 'key_other_of_same_account',
          createdAt: new Date(Date.UTC(2026, 2, 1, 0, 0, 0) + i * 3_600_000).toISOString(),
        }),
      );
    }
    await insertUsage(env.sql, rows);

    const all = await get('/account/usage?limit=200', key);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ data: newestFirst(rows).map(recordOf), nextCursor: null });

    const check = async (query: string, keep: (row: RawUsage) => boolean) => {
      const response = await get(`/account/usage?limit=200&${query}`, key);
      expect(response.status, query).toBe(200);
      const expected = newestFirst(rows.filter(keep)).map((r) => r.id);
      expect(expected.length, query).toBeGreaterThan(0);
      expect(response.body.data.map((r: { id: string }) => r.id), query).toEqual(expected);
    };
    await check('model=mock-large', (r) => r.model === 'mock-large');
    await check('operation=summarize', (r) => r.operation === 'summarize');
    await check(`key=${keyId}`, (r) => r.keyId === keyId);
    // from inclusive, to exclusive; a date alone is midnight UTC.
    await check('from=2026-03-01T05:00:00Z&to=2026-03-01T10:00:00Z', (r) => r.createdAt >= '2026-03-01T05:00:00.000Z' && r.createdAt < '2026-03-01T10:00:00.000Z');
    await check('from=2026-03-01T04:00:00%2B02:00', (r) => r.createdAt >= '2026-03-01T02:00:00.000Z');
    await check('to=2026-03-02', (r) => r.createdAt < '2026-03-02T00:00:00.000Z');
    await check(`model=mock&operation=refine-content&key=${keyId}&from=2026-03-01`, (r) => r.model === 'mock' && r.operation === 'refine-content' && r.keyId === keyId);
    const none = await get('/account/usage?model=gpt-4o', key);
    expect(none.body).toEqual({ data: [], nextCursor: null });
  });

  it('pages with no duplicate and no gap while rows are written between pages, rows sharing a timestamp included', async () => {
    const { account, key } = await accountWithKey();
    // Many rows share one microsecond-precise timestamp: the id breaks the tie.
    const base = Date.UTC(2026, 3, 1);
    const initial = Array.from({ length: 45 }, (_, i) =>
      rawUsage(account.id, { createdAt: `${new Date(base + Math.floor(i / 5) * 1000).toISOString().slice(0, 19)}.${String(123456 + (i % 2)).padStart(6, '0')}Z` }),
    );
    await insertUsage(env.sql, initial);
    const written: RawUsage[] = [];
    const seen = await allPages('/account/usage?limit=7', key, async (page) => {
      // Newer than everything (belongs before page 1), older than everything (belongs at the end), and
      // at exactly the timestamp of rows already listed.
      const batch = [
        rawUsage(account.id, { createdAt: new Date(base + 86_400_000 + page).toISOString() }),
        rawUsage(account.id, { createdAt: new Date(base - 86_400_000 - page * 1000).toISOString() }),
        rawUsage(account.id, { createdAt: initial[page]!.createdAt }),
      ];
      written.push(...batch);
      await insertUsage(env.sql, batch);
    });
    const ids = seen.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length); // no duplicates
    for (const row of initial) expect(ids).toContain(row.id); // no gaps among rows present at the start
    // Every row written older than the first page's cursor is also listed (it lies ahead of the cursor).
    for (const row of written.filter((r) => r.createdAt < initial[0]!.createdAt.slice(0, 10))) expect(ids).toContain(row.id);
    // The listing stays in (created_at, id) descending order across pages.
    const everything = newestFirst([...initial, ...written]).map((r) => r.id);
    expect(ids).toEqual(everything.filter((id) => ids.includes(id)));
  });

  it('refuses bad filters and cursors with a 400 naming the field', async () => {
    const { key } = await accountWithKey();
    expectBadRequest(await get('/account/usage?from=yesterday', key), 'from');
    expectBadRequest(await get('/account/usage?to=2026-13-45', key), 'to');
    expectBadRequest(await get('/account/usage?from=2026-01-01T10:00:00', key), 'from'); // no zone
    expectBadRequest(await get('/account/usage?from=2026-02-01&to=2026-01-01', key), 'to');
    expectBadRequest(await get('/account/usage?limit=0', key), 'limit');
    expectBadRequest(await get('/account/usage?limit=201', key), 'limit');
    expectBadRequest(await get('/account/usage?limit=ten', key), 'limit');
    expectBadRequest(await get('/account/usage?cursor=not-a-cursor', key), 'cursor');
    expectBadRequest(await get(`/account/usage?cursor=${Buffer.from('{"a":1}').toString('base64url')}`, key), 'cursor');
    expectBadRequest(await get(`/account/usage?model=${'m'.repeat(201)}`, key), 'model');
  });

  it('never shows another account its rows, whatever the filters or cursor', async () => {
    const a = await accountWithKey();
    const b = await accountWithKey();
    const rowsB = Array.from({ length: 5 }, () => rawUsage(b.account.id, { keyId: b.keyId, operation: 'secret-op' }));
    await insertUsage(env.sql, rowsB);
    expect((await get('/account/usage', a.key)).body).toEqual({ data: [], nextCursor: null });
    expect((await get(`/account/usage?key=${b.keyId}`, a.key)).body.data).toEqual([]);
    expect((await get('/account/usage?operation=secret-op', a.key)).body.data).toEqual([]);
    // B's cursor used by A: positions only, still scoped to A.
    const pageB = await get('/account/usage?limit=2', b.key);
    expect(pageB.body.data).toHaveLength(2);
    expect((await get(`/account/usage?cursor=${pageB.body.nextCursor}`, a.key)).body.data).toEqual([]);
  });
});

describe('GET /account/usage/summary', () => {
  it('sums requests, tokens, images and cost per day, model, operation and key, equal to sums of the raw rows', async () => {
    const { account, key, keyId } = await accountWithKey();
    const rows = Array.from({ length: 40 }, (_, i) =>
      rawUsage(account.id, {
        model: ['mock', 'mock-large', 'gpt-4o-mini'][i % 3]!,
        operation: [null, 'refine-content', 'summarize'][i % 3 === 0 ? 0 : (i % 5) % 2 === 0 ? 1 : 2]!,
        keyId: i % 4 === 0 ? null : i % 2 === 0 ? keyId : 'key_second',
        createdAt: new Date(Date.UTC(2026, 4, 1, 22) + i * 2 * 3_600_000).toISOString(), // spans days
      }),
    );
    await insertUsage(env.sql, rows);
    const other = await accountWithKey();
    await insertUsage(env.sql, [rawUsage(other.account.id, { model: 'mock', createdAt: rows[0]!.createdAt })]);

    const dayOf = (r: RawUsage) => r.createdAt.slice(0, 10);
    const keyOf = { day: dayOf, model: (r: RawUsage) => r.model, operation: (r: RawUsage) => r.operation, key: (r: RawUsage) => r.keyId };
    for (const [by, of] of Object.entries(keyOf)) {
      const response = await get(`/account/usage/summary?groupBy=${by}`, key);
      expect(response.status, by).toBe(200);
      expect(response.body.groupBy).toBe(by);
      expect(response.body.totals).toEqual(totalsOf(rows));
      const expected = [...groupBy(rows, of)].map(([group, members]) => ({ group, ...totalsOf(members) }));
      expect(new Set(response.body.data.map((g: { group: string | null }) => g.group))).toEqual(new Set(expected.map((g) => g.group)));
      expect([...response.body.data].sort(byGroup), by).toEqual(expected.sort(byGroup));
    }
    const days = (await get('/account/usage/summary?groupBy=day', key)).body.data.map((g: { group: string }) => g.group);
    expect(days).toEqual([...days].sort()); // oldest first

    // Filters and range apply as in the listing.
    const filtered = await get(`/account/usage/summary?groupBy=model&from=2026-05-02&to=2026-05-03&key=${keyId}`, key);
    const kept = rows.filter((r) => dayOf(r) === '2026-05-02' && r.keyId === keyId);
    expect(kept.length).toBeGreaterThan(0);
    expect(filtered.body.totals).toEqual(totalsOf(kept));
    expect(filtered.body.from).toBe('2026-05-02T00:00:00.000Z');
  });

  it('refuses a missing or unknown groupBy and bad ranges (400 naming the field); other accounts sum to nothing', async () => {
    const { key } = await accountWithKey();
    expectBadRequest(await get('/account/usage/summary', key), 'groupBy');
    expectBadRequest(await get('/account/usage/summary?groupBy=week', key), 'groupBy');
    expectBadRequest(await get('/account/usage/summary?groupBy=day&from=2026-01-02&to=2026-01-01', key), 'to');
    const b = await accountWithKey();
    await insertUsage(env.sql, [rawUsage(b.account.id, { keyId: b.keyId })]);
    const response = await get(`/account/usage/summary?groupBy=key&key=${b.keyId}`, key);
    expect(response.body.data).toEqual([]);
    expect(response.body.totals.requests).toBe(0);
  });
});

describe('GET /account/usage/:requestId', () => {
  it("returns one request's billed row with its rates; another account's request is 404 like an unknown one", async () => {
    const a = await accountWithKey();
    const b = await accountWithKey();
    const mine = rawUsage(a.account.id, { keyId: a.keyId, rates: { input: 150_000, cachedInput: 75_000, output: 600_000, per: 1_000_000 }, operation: 'refine-content' });
    const theirs = rawUsage(b.account.id);
    await insertUsage(env.sql, [mine, theirs]);
    const response = await get(`/account/usage/${mine.id}`, a.key);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(recordOf(mine));
    const foreign = await get(`/account/usage/${theirs.id}`, a.key);
    const unknown = await get('/account/usage/req_does_not_exist', a.key);
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
    expect(foreign.body.error.message).toContain(theirs.id);
    expect((await get(`/account/usage/${theirs.id}`, b.key)).body).toEqual(recordOf(theirs));
  });

  it('needs a key: no key is 401, an auditor key is 403', async () => {
    const a = await accountWithKey();
    expect((await env.gw.request('GET', '/account/usage')).status).toBe(401);
    const auditor = await keyFor(env.gw, a.account, 'auditor');
    expect((await get('/account/usage', auditor)).status).toBe(403);
  });
});

function byGroup(a: { group: string | null }, b: { group: string | null }): number {
  return String(a.group).localeCompare(String(b.group));
}
