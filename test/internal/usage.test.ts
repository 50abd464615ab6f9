// POST /internal/usage (SPEC 4, "Other"): usage an app metered itself, priced and charged like proxied
// usage through the hold store, guarded by x-billing-secret, idempotent, and all-or-nothing.
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, useTestGateway, type TestGateway, type TestResponse } from '../helpers/harness.js';
import { MOCK, settleAll } from '../proxy/support.js';

const SECRET = 'bs_test_4d8f0b9e6a1c2e3f';
const env = useTestGateway({ env: { BILLING_SECRET: SECRET } });

/** `secret` null sends no x-billing-secret header. */
const report = (body: unknown, secret: string | null = SECRET, gw: TestGateway = env.gw) =>
  gw.request('POST', '/internal/usage', { body, headers: secret === null ? {} : { 'x-billing-secret': secret } });

function usageBody(accountId: string, idempotencyKey: string, extra: Record<string, unknown> = {}) {
  return { accountId, model: 'mock', operation: 'refine-content', inputTokens: 1000, cachedTokens: 200, outputTokens: 300, idempotencyKey, ...extra };
}

// (800 * 1 + 200 * 0.5 + 300 * 2) tokens, with mock's rates of 1, 0.5 and 2 per token.
const COST = 1500;

async function written(accountId: string) {
  await settleAll(env.gw);
  const usage = await env.sql`select id, key_id, model, provider, operation, input_tokens::int, cached_input_tokens::int, output_tokens::int, images::int, cost::int, rates, usage_source, status
    from usage_events where account_id = ${accountId}`;
  const ledger = await env.sql`select type, amount::int, reference from ledger_entries where account_id = ${accountId} and type = 'usage'`;
  return { usage, ledger };
}

function expectError(response: TestResponse, status: number, code: string, param: string | null = null) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body).toEqual({ error: { message: expect.any(String), type: expect.any(String), code, param } });
}

describe('the billing secret', () => {
  it('a missing or wrong secret is 401 and records nothing', async () => {
    const account = await accountWithBalance(env.gw, 10_000);
    expectError(await report(usageBody(account.id, 'no-secret'), null), 401, 'invalid_billing_secret');
    expectError(await report(usageBody(account.id, 'wrong'), 'bs_test_4d8f0b9e6a1c2e3X'), 401, 'invalid_billing_secret');
    expectError(await report(usageBody(account.id, 'short'), 'x'), 401, 'invalid_billing_secret');
    expectError(await report(usageBody(account.id, 'long'), `${SECRET}${SECRET}`), 401, 'invalid_billing_secret');
    // An API key is not a billing secret, not even an admin key.
    const admin = await env.gw.request('POST', '/internal/usage', { key: env.gw.adminKey, body: usageBody(account.id, 'admin') });
    expectError(admin, 401, 'invalid_billing_secret');
    expect(await written(account.id)).toEqual({ usage: [], ledger: [] });
  });

  it('without BILLING_SECRET the route does not exist (404), whatever the header', async () => {
    const off = await startTestGateway({ database: env.gw.database, redisPrefix: env.gw.redisPrefix });
    try {
      const account = await accountWithBalance(off, 10_000);
      expectError(await report(usageBody(account.id, 'off'), SECRET, off), 404, 'not_found');
      expectError(await report(usageBody(account.id, 'off'), null, off), 404, 'not_found');
      expect(await written(account.id)).toEqual({ usage: [], ledger: [] });
    } finally {
      await off.stop({ keepDatabase: true });
    }
  });
});

describe('recording usage', () => {
  it('prices it like proxied usage, charges the live balance at once, and settles one usage row and one ledger row', async () => {
    expect(chargeFor({ inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300 }, MOCK)).toBe(COST);
    const account = await accountWithBalance(env.gw, 10_000);
    const key = await keyFor(env.gw, account);
    const response = await report(usageBody(account.id, 'job-1'));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(response.body).toMatchObject({ id: expect.stringMatching(/^iu_/), object: 'usage', accountId: account.id, model: 'mock', operation: 'refine-content', cost: COST, balance: 10_000 - COST, replayed: false });

    // Through the hold store: the live balance (the Redis mirror) shows it before Postgres does.
    const live = await env.gw.request('GET', '/account', { key });
    expect(live.body).toMatchObject({ balance: 10_000 - COST, held: 0, available: 10_000 - COST });

    const { usage, ledger } = await written(account.id);
    expect(usage).toEqual([
      {
        id: response.body.id,
        key_id: null,
        model: 'mock',
        provider: 'mock',
        operation: 'refine-content',
        input_tokens: 1000,
        cached_input_tokens: 200,
        output_tokens: 300,
        images: 0,
        cost: COST,
        rates: { input: MOCK.input, cachedInput: MOCK.cachedInput, output: MOCK.output, per: 1_000_000 },
        usage_source: 'provider',
        status: 'ok',
      },
    ]);
    expect(ledger).toEqual([{ type: 'usage', amount: -COST, reference: response.body.id }]);
    expect((await env.gw.request('GET', '/admin/reconcile', { key: env.gw.adminKey })).body.ok).toBe(true);
  });

  it('is idempotent: a replay returns the first result and charges nothing, even once the replay record is gone', async () => {
    const account = await accountWithBalance(env.gw, 10_000);
    const first = await report(usageBody(account.id, 'job-2'));
    expect(first.status).toBe(201);
    // Fields in another order are the same report.
    const { idempotencyKey, ...rest } = usageBody(account.id, 'job-2');
    const again = await report({ idempotencyKey, ...Object.fromEntries(Object.entries(rest).reverse()) });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, replayed: true });

    expectError(await report(usageBody(account.id, 'job-2', { outputTokens: 301 })), 409, 'idempotency_key_reused', 'idempotencyKey');

    // The 24-hour replay record is lost (expiry, or Redis lost it): Postgres still knows the report.
    await settleAll(env.gw);
    const redis = env.gw.gateway.deps.redis!;
    const records = await redis.keys(`${env.gw.redisPrefix}{acct:internal}:idem:*`);
    expect(records.length).toBeGreaterThan(0);
    await redis.del(...records);
    const late = await report(usageBody(account.id, 'job-2'));
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ id: first.body.id, cost: COST, replayed: true });

    const { usage, ledger } = await written(account.id);
    expect(usage).toHaveLength(1);
    expect(ledger).toHaveLength(1);
    const [{ balance }] = await env.sql<[{ balance: string }]>`select balance from accounts where id = ${account.id}`;
    expect(Number(balance)).toBe(10_000 - COST);
  });

  it('402 when the balance cannot pay, and nothing is written; the same key works once the balance can', async () => {
    const account = await accountWithBalance(env.gw, COST - 1);
    const key = await keyFor(env.gw, account);
    const refused = await report(usageBody(account.id, 'job-3'));
    expectError(refused, 402, 'insufficient_balance');
    expect(refused.body.error.type).toBe('insufficient_quota');
    expect(await written(account.id)).toEqual({ usage: [], ledger: [] });
    expect((await env.gw.request('GET', '/account', { key })).body).toMatchObject({ balance: COST - 1, held: 0 });

    expect((await env.gw.request('POST', `/admin/accounts/${account.id}/grants`, { key: env.gw.adminKey, body: { amount: 1, reason: 'top up', idempotencyKey: 'g1' } })).status).toBe(201);
    const accepted = await report(usageBody(account.id, 'job-3'));
    expect(accepted.status).toBe(201);
    expect(accepted.body.balance).toBe(0);
  });

  it('prices image models per image at the given size and quality', async () => {
    const account = await accountWithBalance(env.gw, 100_000);
    const body = { accountId: account.id, model: 'gpt-image-1', operation: 'thumbnail', inputTokens: 0, outputTokens: 0, images: 2, size: '1024x1024', quality: 'low', idempotencyKey: 'img-1' };
    const response = await report(body);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(response.body.cost).toBe(2 * 11_000);
    expectError(await report({ ...body, idempotencyKey: 'img-2', size: '10x10' }), 400, 'invalid_request', 'size');
    expectError(await report({ ...body, idempotencyKey: 'img-3', quality: undefined }), 400, 'invalid_request', 'quality');
    expectError(await report({ ...body, idempotencyKey: 'img-4', images: 0 }), 400, 'invalid_request', 'images');
  });

  it('validates every field with a 400 naming it, and an unknown account is 404', async () => {
    const account = await accountWithBalance(env.gw, 100_000);
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{ idempotencyKey: undefined }, 'idempotencyKey'],
      [{ idempotencyKey: '' }, 'idempotencyKey'],
      [{ accountId: undefined }, 'accountId'],
      [{ operation: undefined }, 'operation'],
      [{ operation: 'nul\u0000byte' }, 'operation'],
      [{ inputTokens: -1 }, 'inputTokens'],
      [{ outputTokens: 1.5 }, 'outputTokens'],
      [{ outputTokens: 1e12 }, 'outputTokens'],
      [{ cachedTokens: 1001 }, 'cachedTokens'],
      [{ images: 1 }, 'images'],
      [{ model: 'no-such-model' }, 'model', 'model_not_found'],
      [{ tokens: 5 }, 'tokens'],
    ];
    for (const [change, param, code] of cases) {
      expectError(await report({ ...usageBody(account.id, `bad-${param}`), ...change }), 400, code ?? 'invalid_request', param);
    }
    expectError(await report(usageBody('acct_nope', 'nobody')), 404, 'not_found');
    expect(await written(account.id)).toEqual({ usage: [], ledger: [] });
  });
});
