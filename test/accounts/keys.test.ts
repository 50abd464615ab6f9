// Keys through HTTP (SPEC 4): /account/keys for the key's own account, /admin/accounts/:id/keys for any
// account. The full key is shown once, listings never show it nor its hash, filters and paging hold,
// bad input is a 400 naming the field, and one account never reads or revokes another's keys.
import { describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway, type TestResponse } from '../helpers/harness.js';

const env = useTestGateway();

function expectError(response: TestResponse, status: number, code: string, param: string | null = null) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body).toEqual({ error: { message: expect.any(String), type: expect.any(String), code, param } });
}

async function ownerKey() {
  const account = await accountWithBalance(env.gw, 1_000);
  return { account, key: await keyFor(env.gw, account) };
}

const listOwn = (key: string, query = '') => env.gw.request('GET', `/account/keys${query}`, { key });

describe('POST /account/keys', () => {
  it('creates a user key of the caller account, shows the secret once, and the key works at once', async () => {
    const { account, key } = await ownerKey();
    const created = await env.gw.request('POST', '/account/keys', {
      key,
      body: { name: 'ci', rpm: 60, tpm: 10_000, budget: 50_000, models: ['mock'], expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'ci', role: 'user', rpm: 60, tpm: 10_000, budget: 50_000, models: ['mock'], status: 'active', revokedAt: null, lastUsedAt: null });
    expect(created.body.key).toMatch(/^tg-[A-Za-z0-9_-]{43}$/);
    expect(created.body.prefix).toBe(`${created.body.key.slice(0, 10)}…`);

    const mine = await env.gw.request('GET', '/account', { key: created.body.key });
    expect(mine.status).toBe(200);
    expect(mine.body.id).toBe(account.id);

    const listed = await listOwn(key);
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(created.body.key);
    expect(text).not.toContain(created.body.key.slice(3));
    expect(text).not.toMatch(/hash/i);
    const [row] = await env.sql<{ key_hash: string }[]>`select key_hash from api_keys where id = ${created.body.id}`;
    expect(text).not.toContain(row!.key_hash);
    const entry = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(Object.keys(entry).sort()).toEqual(['budget', 'createdAt', 'expiresAt', 'id', 'lastUsedAt', 'models', 'name', 'prefix', 'revokedAt', 'role', 'rpm', 'status', 'tpm'].sort());
    expect(entry.lastUsedAt).not.toBeNull(); // the new key was just used
  });

  it('refuses bad limits with a 400 naming the field, and stores nothing', async () => {
    const { account, key } = await ownerKey();
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{ name: 'x', rpm: 1e12 }, 'rpm'],
      [{ name: 'x', rpm: 0 }, 'rpm'],
      [{ name: 'x', rpm: 1.5 }, 'rpm'],
      [{ name: 'x', tpm: 2 ** 31 }, 'tpm'],
      [{ name: 'x', tpm: -1 }, 'tpm'],
      [{ name: 'x', budget: 0 }, 'budget'],
      [{ name: 'x', budget: 1e18 }, 'budget'],
      [{ name: 'x', budget: '100' }, 'budget'],
      [{ name: 'x', models: [] }, 'models'],
      [{ name: 'x', models: ['mock', 'no-such-model'] }, 'models.1', 'model_not_found'],
      [{ name: 'x', expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'x', expiresAt: new Date(Date.now() - 1000).toISOString() }, 'expiresAt'],
      [{ name: '' }, 'name'],
      [{ name: 'nul\u0000byte' }, 'name'],
      [{ rpm: 5 }, 'name'],
      [{ name: 'x', role: 'admin' }, 'role'],
      [{ name: 'x', rpmLimit: 5 }, 'rpmLimit'],
    ];
    for (const [body, param, code] of cases) {
      expectError(await env.gw.request('POST', '/account/keys', { key, body }), 400, code ?? 'invalid_request', param);
    }
    const [{ n }] = await env.sql<[{ n: number }]>`select count(*)::int as n from api_keys where account_id = ${account.id}`;
    expect(n).toBe(1);
  });

  it('the admin route validates the same way: rpm 1e12 is a 400, not an int overflow (500)', async () => {
    const { account } = await ownerKey();
    const response = await env.gw.request('POST', `/admin/accounts/${account.id}/keys`, { key: env.gw.adminKey, body: { name: 'x', rpm: 1e12 } });
    expectError(response, 400, 'invalid_request', 'rpm');
    expectError(await env.gw.request('POST', `/admin/accounts/${account.id}/keys`, { key: env.gw.adminKey, body: { name: 'x', role: 'root' } }), 400, 'invalid_request', 'role');
    expectError(await env.gw.request('POST', '/admin/accounts/acct_nope/keys', { key: env.gw.adminKey, body: { name: 'x' } }), 404, 'not_found');
  });

  it('a key with limits may list keys but not create or revoke them', async () => {
    const { account, key } = await ownerKey();
    const limited = await keyFor(env.gw, account, 'user', { models: ['mock'] });
    expect((await listOwn(limited)).status).toBe(200);
    expectError(await env.gw.request('POST', '/account/keys', { key: limited, body: { name: 'unlimited' } }), 403, 'forbidden');
    const other = (await listOwn(key)).body.data[0].id as string;
    expectError(await env.gw.request('DELETE', `/account/keys/${other}`, { key: limited }), 403, 'forbidden');
  });

  it('auditor keys and requests without a key are refused', async () => {
    const { account } = await ownerKey();
    const auditor = await keyFor(env.gw, account, 'auditor');
    expectError(await env.gw.request('GET', '/account/keys', { key: auditor }), 403, 'forbidden');
    expectError(await env.gw.request('GET', '/account/keys'), 401, 'invalid_api_key');
    expectError(await env.gw.request('POST', '/account/keys', { body: { name: 'x' } }), 401, 'invalid_api_key');
  });
});

describe('GET /account/keys', () => {
  it('filters by status and role, and pages newest first without duplicates or gaps while keys are added', async () => {
    const { account, key } = await ownerKey();
    const revoked = await env.gw.request('POST', '/account/keys', { key, body: { name: 'to revoke' } });
    expect((await env.gw.request('DELETE', `/account/keys/${revoked.body.id}`, { key })).status).toBe(200);
    const expiring = await env.gw.request('POST', '/account/keys', { key, body: { name: 'expiring', expiresAt: new Date(Date.now() + 3_600_000).toISOString() } });
    await env.sql`update api_keys set expires_at = now() - interval '1 second' where id = ${expiring.body.id}`;
    const admin = await env.gw.request('POST', `/admin/accounts/${account.id}/keys`, { key: env.gw.adminKey, body: { name: 'adm', role: 'admin' } });

    const ids = async (query: string) => (await listOwn(key, query)).body.data.map((k: { id: string }) => k.id);
    expect(await ids('?status=revoked')).toEqual([revoked.body.id]);
    expect(await ids('?status=expired')).toEqual([expiring.body.id]);
    expect((await ids('?status=active')).sort()).toEqual([admin.body.id, (await listOwn(key)).body.data.at(-1).id].sort());
    expect(await ids('?role=admin')).toEqual([admin.body.id]);
    expectError(await listOwn(key, '?status=deleted'), 400, 'invalid_request', 'status');
    expectError(await listOwn(key, '?limit=0'), 400, 'invalid_request', 'limit');
    expectError(await listOwn(key, '?cursor=garbage'), 400, 'invalid_request', 'cursor');

    // Paging: 2 a page while a new key is created between pages; the new one is newer, so it never
    // appears in later pages, and every older key appears exactly once.
    const before: string[] = (await listOwn(key, '?limit=200')).body.data.map((k: { id: string }) => k.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: TestResponse = await listOwn(key, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((k: { id: string }) => k.id));
      cursor = page.body.nextCursor;
      await env.gw.request('POST', '/account/keys', { key, body: { name: 'added while paging' } });
    } while (cursor);
    expect(seen).toEqual(before);
  });
});

describe('DELETE /account/keys/:id', () => {
  it('revokes at once, is idempotent, and leaves the other keys working', async () => {
    const { key } = await ownerKey();
    const doomed = await env.gw.request('POST', '/account/keys', { key, body: { name: 'doomed' } });
    expect((await env.gw.request('GET', '/account', { key: doomed.body.key })).status).toBe(200); // cached now

    const revoked = await env.gw.request('DELETE', `/account/keys/${doomed.body.id}`, { key });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: doomed.body.id, status: 'revoked', revokedAt: expect.any(String) });
    expect(revoked.body.key).toBeUndefined();
    const refused = await env.gw.request('GET', '/account', { key: doomed.body.key });
    expectError(refused, 401, 'invalid_api_key');
    expect(refused.body.error.message).toMatch(/revoked/);

    const again = await env.gw.request('DELETE', `/account/keys/${doomed.body.id}`, { key });
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    expect((await env.gw.request('GET', '/account', { key })).status).toBe(200);
    expectError(await env.gw.request('DELETE', '/account/keys/key_doesnotexist', { key }), 404, 'not_found');
  });
});

describe('tenant isolation', () => {
  it("a key of account A never lists, revokes or learns of account B's keys", async () => {
    const a = await ownerKey();
    const b = await ownerKey();
    const bKeys = (await listOwn(b.key)).body.data;
    const bKeyId = bKeys[0].id as string;

    const aList = await listOwn(a.key, '?limit=200');
    expect(aList.body.data.map((k: { id: string }) => k.id)).not.toContain(bKeyId);
    expect(aList.body.data.every((k: { id: string }) => !bKeys.some((bk: { id: string }) => bk.id === k.id))).toBe(true);

    // Revoking B's key through A's route is "not found", exactly like a key that does not exist.
    const attempt = await env.gw.request('DELETE', `/account/keys/${bKeyId}`, { key: a.key });
    expectError(attempt, 404, 'not_found');
    const [row] = await env.sql<{ revoked_at: Date | null }[]>`select revoked_at from api_keys where id = ${bKeyId}`;
    expect(row!.revoked_at).toBeNull();
    expect((await env.gw.request('GET', '/account', { key: b.key })).status).toBe(200);

    // A user key cannot use the admin routes to reach B either.
    expectError(await env.gw.request('GET', `/admin/accounts/${b.account.id}/keys`, { key: a.key }), 403, 'forbidden');
    expectError(await env.gw.request('DELETE', `/admin/accounts/${b.account.id}/keys/${bKeyId}`, { key: a.key }), 403, 'forbidden');
    // Keys created by A land in A.
    const created = await env.gw.request('POST', '/account/keys', { key: a.key, body: { name: 'mine' } });
    const [owner] = await env.sql<{ account_id: string }[]>`select account_id from api_keys where id = ${created.body.id}`;
    expect(owner!.account_id).toBe(a.account.id);
  });
});

describe('admin keys routes', () => {
  it('list and revoke any account key; a key id of another account is not found; auditors only read', async () => {
    const a = await ownerKey();
    const b = await ownerKey();
    const bKeyId = (await listOwn(b.key)).body.data[0].id as string;
    const listed = await env.gw.request('GET', `/admin/accounts/${a.account.id}/keys?status=active`, { key: env.gw.adminKey });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(a.key);

    expectError(await env.gw.request('DELETE', `/admin/accounts/${a.account.id}/keys/${bKeyId}`, { key: env.gw.adminKey }), 404, 'not_found');
    expect((await env.gw.request('GET', '/account', { key: b.key })).status).toBe(200);

    const auditor = await keyFor(env.gw, a.account, 'auditor');
    expect((await env.gw.request('GET', `/admin/accounts/${b.account.id}/keys`, { key: auditor })).status).toBe(200);
    expectError(await env.gw.request('DELETE', `/admin/accounts/${b.account.id}/keys/${bKeyId}`, { key: auditor }), 403, 'forbidden');

    const revoked = await env.gw.request('DELETE', `/admin/accounts/${b.account.id}/keys/${bKeyId}`, { key: env.gw.adminKey });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expectError(await env.gw.request('GET', '/account', { key: b.key }), 401, 'invalid_api_key');
    expectError(await env.gw.request('GET', '/admin/accounts/acct_nope/keys', { key: env.gw.adminKey }), 404, 'not_found');
  });

  it('refuses to revoke the last active admin key', async () => {
    const admins = await env.sql<{ id: string; account_id: string; name: string }[]>`select id, account_id, name from api_keys where role = 'admin' and revoked_at is null`;
    const bootstrap = admins.find((k) => k.name.startsWith('bootstrap admin'))!;
    for (const other of admins.filter((k) => k !== bootstrap)) {
      expect((await env.gw.request('DELETE', `/admin/accounts/${other.account_id}/keys/${other.id}`, { key: env.gw.adminKey })).status).toBe(200);
    }
    const response = await env.gw.request('DELETE', `/admin/accounts/${bootstrap.account_id}/keys/${bootstrap.id}`, { key: env.gw.adminKey });
    expectError(response, 409, 'conflict');
    expect((await env.gw.request('GET', '/admin/accounts', { key: env.gw.adminKey })).status).toBe(200);
  });
});
