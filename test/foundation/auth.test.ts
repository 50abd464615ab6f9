// Bearer-key authentication and roles through HTTP (SPEC 3.1 and 4), and keys never reaching the logs.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/accounts/api-keys.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway, type TestResponse } from '../helpers/harness.js';

const logLines: string[] = [];
let gw: TestGateway;
let sql: postgres.Sql;

beforeAll(async () => {
  gw = await startTestGateway({ onLogLine: (line) => logLines.push(line) });
  sql = postgres(gw.database.url, { max: 2, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end();
  await gw?.stop();
});

function expectOpenAIError(response: TestResponse, status: number, code: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(Object.keys(response.body)).toEqual(['error']);
  expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(response.body.error.code).toBe(code);
  expect(response.body.error.param).toBeNull();
  expect(response.body.error.type).toBe(status === 401 ? 'authentication_error' : status === 403 ? 'permission_error' : expect.any(String));
  expect(response.body.error.message).toEqual(expect.any(String));
}

/** Creates a key through the admin API and returns the secret with its id. */
async function createKey(accountId: string, body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const response = await gw.request('POST', `/admin/accounts/${accountId}/keys`, { key: gw.adminKey, body: { name: 'test key', ...body } });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  expect(response.body.key).toMatch(/^tg-[A-Za-z0-9_-]{43}$/);
  return { id: response.body.id, key: response.body.key };
}

const getAccount = (headers: Record<string, string>) => gw.request('GET', '/account', { headers });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('keys that do not authenticate -> 401 invalid_api_key', () => {
  it('missing and malformed Authorization headers', async () => {
    const account = await accountWithBalance(gw, 0);
    const good = await keyFor(gw, account);
    const cases: Record<string, string>[] = [
      {},
      { authorization: '' },
      { authorization: 'Bearer nope-not-a-key' },
      { authorization: 'Basic eHl6Onh5eg==' },
      { authorization: `Basic ${good}` },
      { authorization: 'Bearer tg-tooshort' },
      { authorization: `Bearer ${good.slice(0, 20)}` },
      { authorization: `Bearer ${good}!` },
      { authorization: `Bearer ${good} extra` },
      { authorization: good },
    ];
    for (const headers of cases) expectOpenAIError(await getAccount(headers), 401, 'invalid_api_key');
    // The same key, well formed, does authenticate (so the cases above fail for their form alone).
    expect((await getAccount(bearer(good))).status).toBe(200);
    expect((await getAccount({ authorization: `bearer ${good}` })).status).toBe(200);
  });

  it('an unknown key', async () => {
    expectOpenAIError(await getAccount(bearer(generateApiKey())), 401, 'invalid_api_key');
    expectOpenAIError(await gw.request('GET', '/admin/accounts', { key: generateApiKey() }), 401, 'invalid_api_key');
  });

  it('a key revoked before its first use', async () => {
    const account = await accountWithBalance(gw, 0);
    const { id, key } = await createKey(account.id);
    await sql`update api_keys set revoked_at = now() where id = ${id}`;
    const response = await getAccount(bearer(key));
    expectOpenAIError(response, 401, 'invalid_api_key');
    expect(response.body.error.message).toMatch(/revoked/);
  });

  it('a key revoked after use stops working once the instance forgets its cached entry', async () => {
    const account = await accountWithBalance(gw, 0);
    const { id, key } = await createKey(account.id);
    const other = await createKey(account.id);
    expect((await getAccount(bearer(key))).status).toBe(200);
    expect((await getAccount(bearer(other.key))).status).toBe(200);

    await sql`update api_keys set revoked_at = now() where id = ${id}`;
    gw.gateway.deps.authenticator.forget((cached) => cached.id === id);
    const response = await getAccount(bearer(key));
    expectOpenAIError(response, 401, 'invalid_api_key');
    expect(response.body.error.message).toMatch(/revoked/);
    // Revoking one key leaves the account's other keys alone.
    expect((await getAccount(bearer(other.key))).status).toBe(200);
  });

  it('an expired key, while a key expiring later still works', async () => {
    const account = await accountWithBalance(gw, 0);
    const later = await createKey(account.id, { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await getAccount(bearer(later.key))).status).toBe(200);

    const { id, key } = await createKey(account.id, { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    await sql`update api_keys set expires_at = now() - interval '1 second' where id = ${id}`;
    const response = await getAccount(bearer(key));
    expectOpenAIError(response, 401, 'invalid_api_key');
    expect(response.body.error.message).toMatch(/expired/);
  });
});

describe('roles and account status -> 403', () => {
  it('a user key may not use admin routes', async () => {
    const account = await accountWithBalance(gw, 0);
    const key = await keyFor(gw, account, 'user');
    expectOpenAIError(await gw.request('GET', '/admin/accounts', { key }), 403, 'forbidden');
    expectOpenAIError(await gw.request('GET', '/admin/reconcile', { key }), 403, 'forbidden');
    expectOpenAIError(await gw.request('POST', '/admin/accounts', { key, body: { name: 'x', grant: 1_000_000 } }), 403, 'forbidden');
    expectOpenAIError(await gw.request('POST', `/admin/accounts/${account.id}/grants`, { key, body: { amount: 5, reason: 'x', idempotencyKey: 'self' } }), 403, 'forbidden');
    const [entries] = await sql<{ n: string }[]>`select count(*) as n from ledger_entries where account_id = ${account.id}`;
    expect(Number(entries!.n)).toBe(0);
  });

  it('an auditor key reads admin routes but cannot write', async () => {
    const account = await accountWithBalance(gw, 10);
    const key = await keyFor(gw, account, 'auditor');
    const list = await gw.request('GET', '/admin/accounts', { key });
    expect(list.status).toBe(200);
    expect(list.body.data.map((a: { id: string }) => a.id)).toContain(account.id);
    expect((await gw.request('GET', `/admin/accounts/${account.id}`, { key })).status).toBe(200);
    expect((await gw.request('GET', '/admin/reconcile', { key })).body.ok).toBe(true);

    expectOpenAIError(await gw.request('POST', '/admin/accounts', { key, body: { name: 'by auditor' } }), 403, 'forbidden');
    expectOpenAIError(await gw.request('PATCH', `/admin/accounts/${account.id}`, { key, body: { status: 'suspended' } }), 403, 'forbidden');
    expectOpenAIError(await gw.request('POST', `/admin/accounts/${account.id}/keys`, { key, body: { name: 'k', role: 'admin' } }), 403, 'forbidden');
    expectOpenAIError(await gw.request('POST', `/admin/accounts/${account.id}/grants`, { key, body: { amount: 5, reason: 'x', idempotencyKey: 'aud' } }), 403, 'forbidden');
    const [created] = await sql<{ n: string }[]>`select count(*) as n from accounts where name = 'by auditor'`;
    expect(Number(created!.n)).toBe(0);
    const [status] = await sql<{ status: string }[]>`select status from accounts where id = ${account.id}`;
    expect(status!.status).toBe('active');
  });

  it("a suspended account's keys get 403 at once, and work again when it is reactivated", async () => {
    const account = await accountWithBalance(gw, 10);
    const key = await keyFor(gw, account);
    expect((await gw.request('GET', '/account', { key })).status).toBe(200); // now cached

    const suspend = await gw.request('PATCH', `/admin/accounts/${account.id}`, { key: gw.adminKey, body: { status: 'suspended' } });
    expect(suspend.status).toBe(200);
    expect(suspend.body.status).toBe('suspended');
    const refused = await gw.request('GET', '/account', { key });
    expect(refused.status).toBe(403);
    expect(refused.body.error.type).toBe('permission_error');
    expect(refused.body.error.message).toMatch(/suspended/);
    expect(refused.body.error.param).toBeNull();

    // A key of the suspended account that was never used is refused too.
    const fresh = await keyFor(gw, account);
    expect((await gw.request('GET', '/account', { key: fresh })).status).toBe(403);

    expect((await gw.request('PATCH', `/admin/accounts/${account.id}`, { key: gw.adminKey, body: { status: 'active' } })).status).toBe(200);
    expect((await gw.request('GET', '/account', { key })).status).toBe(200);
  });
});

describe('logs', () => {
  it('never contain a key, at debug level, whatever the key and the outcome', async () => {
    const account = await accountWithBalance(gw, 100);
    const valid = await keyFor(gw, account);
    const admin = await keyFor(gw, account, 'admin');
    const revoked = await createKey(account.id);
    const unknown = generateApiKey();
    const malformed = 'nope-not-a-key-7Qx9';

    await sql`update api_keys set revoked_at = now() where id = ${revoked.id}`;
    const sent = [valid, admin, revoked.key, unknown, gw.adminKey];
    const startedAt = logLines.length;

    expect((await gw.request('GET', '/account', { key: valid })).status).toBe(200);
    expect((await gw.request('GET', '/account/transactions', { key: valid })).status).toBe(200);
    expect((await gw.request('GET', '/admin/accounts', { key: admin })).status).toBe(200);
    expect((await gw.request('GET', '/admin/accounts', { key: gw.adminKey })).status).toBe(200);
    expect((await gw.request('GET', '/account', { key: revoked.key })).status).toBe(401);
    expect((await gw.request('GET', '/account', { key: unknown })).status).toBe(401);
    expect((await gw.request('GET', '/account', { key: malformed })).status).toBe(401);
    expect((await gw.request('GET', '/account', { headers: { authorization: `Basic ${valid}` } })).status).toBe(401);
    expect((await gw.request('GET', '/admin/accounts', { key: valid })).status).toBe(403);
    // A key echoed in a body, a query string and a 404 path is not logged either.
    expect((await gw.request('POST', '/admin/accounts', { key: gw.adminKey, body: { name: valid } })).status).toBe(201);
    expect((await gw.request('GET', `/admin/accounts?q=${valid}`, { key: gw.adminKey })).status).toBe(200);
    expect((await gw.request('GET', `/admin/accounts/${valid}`, { key: gw.adminKey })).status).toBe(404);
    expect((await gw.request('GET', `/no-such-route/${valid}`, { key: valid })).status).toBe(404);

    // A 500: the hold store fails while serving GET /account, with an error that quotes a key.
    const holds = gw.gateway.deps.holds;
    const view = holds.view.bind(holds);
    holds.view = () => Promise.reject(new Error(`hold store unavailable (test): bad reply for ${valid}`));
    try {
      const failed = await gw.request('GET', '/account', { key: valid });
      expect(failed.status).toBe(500);
      expect(failed.body.error.type).toBe('api_error');
      expect(failed.body.error.message).not.toContain('hold store');
      expect(failed.body.error.message).toContain(failed.headers.get('x-request-id'));
    } finally {
      holds.view = view;
    }

    const lines = logLines.slice(startedAt);
    // The logger did see these requests, at debug level, including the 500.
    expect(lines.length).toBeGreaterThanOrEqual(14);
    expect(lines.some((line) => line.includes('"status":500'))).toBe(true);
    expect(lines.some((line) => line.includes('hold store unavailable (test)'))).toBe(true);
    const everything = logLines.join('\n');
    for (const key of sent) {
      expect(everything).not.toContain(key);
      expect(everything).not.toContain(key.slice(3)); // the part after "tg-"
      expect(everything).not.toContain(key.slice(-20));
    }
    expect(everything).not.toContain(malformed);
    expect(everything).not.toMatch(/Bearer\s+\S/i);
  });
});
