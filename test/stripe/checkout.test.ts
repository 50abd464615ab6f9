// GET /packages, POST /account/checkout and PATCH /account/settings against a fake Stripe API (issue 12).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { deliver, startFakeStripe, stripeEnv, type FakeStripe } from '../helpers/fake-stripe.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';
import { balanceOf, checkout, customer, ledgerOf, smallPackage, useStripeEnv } from './support.js';

const env = useStripeEnv();

describe('GET /packages', () => {
  it('lists the active packages with tokens, price and currency, without a key', async () => {
    const hidden = await smallPackage(env);
    await env.sql`update packages set active = false where id = ${hidden}`;
    const response = await env.gw.request('GET', '/packages');
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual([
      { id: 'pkg_starter', name: 'Starter', tokens: 5_000_000, priceCents: 500, currency: 'usd' },
      { id: 'pkg_standard', name: 'Standard', tokens: 20_000_000, priceCents: 2000, currency: 'usd' },
      { id: 'pkg_pro', name: 'Pro', tokens: 105_000_000, priceCents: 10000, currency: 'usd' },
    ]);
  });
});

describe('POST /account/checkout', () => {
  it('creates a payment-mode session for the package price, naming account and package, and credits nothing', async () => {
    const { accountId, key } = await customer(env, 1_000);
    const before = env.fake.requests.length;
    const session = await checkout(env, key, 'pkg_standard');
    expect(session).toEqual({ id: expect.stringMatching(/^cs_test_/), url: expect.stringMatching(/^https:\/\/checkout\.stripe\.com\//) });

    const [createCustomer] = env.fake.requestsTo('POST', '/v1/customers').slice(-1);
    expect(createCustomer!.body.metadata).toEqual({ tokengate_account_id: accountId });
    expect(createCustomer!.idempotencyKey).toBe(`tokengate-customer-${accountId}`);
    const [create] = env.fake.requestsTo('POST', '/v1/checkout/sessions').slice(-1);
    const metadata = { tokengate_kind: 'checkout', tokengate_account_id: accountId, tokengate_package_id: 'pkg_standard', tokengate_tokens: '20000000' };
    expect(create!.body).toMatchObject({
      mode: 'payment',
      customer: env.fake.sessions.get(session.id)!.customer,
      client_reference_id: accountId,
      line_items: [{ quantity: '1', price_data: { currency: 'usd', unit_amount: '2000', product_data: { name: 'Standard' } } }],
      metadata,
      payment_intent_data: { metadata },
      success_url: 'https://gateway.example.com/checkout/success?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://gateway.example.com/checkout/cancel',
    });
    // The card is not kept for off-session use unless the account opted in to auto-recharge.
    expect((create!.body.payment_intent_data as Record<string, unknown>).setup_future_usage).toBeUndefined();
    expect(env.fake.requests.length - before).toBe(2);

    // Tokens come from webhooks only: the redirect back credits nothing.
    const landing = await fetch(`${env.gw.url}/checkout/success?session_id=${session.id}`);
    expect(landing.status).toBe(200);
    expect(await balanceOf(env, key)).toBe(1_000);
    expect((await ledgerOf(env, accountId)).map((r) => r.type)).toEqual(['grant']);
  });

  it('creates the Stripe customer once per account and reuses it', async () => {
    const { accountId, key } = await customer(env);
    const first = await checkout(env, key, 'pkg_starter');
    const second = await checkout(env, key, 'pkg_pro');
    const created = env.fake.requestsTo('POST', '/v1/customers').filter((r) => (r.body.metadata as Record<string, string>).tokengate_account_id === accountId);
    expect(created).toHaveLength(1);
    const customerId = env.fake.sessions.get(first.id)!.customer;
    expect(env.fake.sessions.get(second.id)!.customer).toBe(customerId);
    const [row] = await env.sql`select stripe_customer_id from accounts where id = ${accountId}`;
    expect(row!.stripe_customer_id).toBe(customerId);
  });

  it('two first checkouts at once still make one customer', async () => {
    const { accountId, key } = await customer(env);
    const sessions = await Promise.all([checkout(env, key, 'pkg_starter'), checkout(env, key, 'pkg_starter')]);
    const customers = new Set(sessions.map((s) => env.fake.sessions.get(s.id)!.customer));
    expect(customers.size).toBe(1);
    const [row] = await env.sql`select stripe_customer_id from accounts where id = ${accountId}`;
    expect(customers.has(row!.stripe_customer_id as string)).toBe(true);
  });

  it('saves the card for off-session use when the account has auto-recharge on', async () => {
    const { key } = await customer(env);
    const enabled = await env.gw.request('PATCH', '/account/settings', { key, body: { autoRecharge: { enabled: true } } });
    expect(enabled.status).toBe(200);
    await checkout(env, key, 'pkg_starter');
    const [create] = env.fake.requestsTo('POST', '/v1/checkout/sessions').slice(-1);
    expect(create!.body.payment_intent_data).toMatchObject({ setup_future_usage: 'off_session' });
  });

  it.each([
    [{ packageId: 'pkg_nope' }, 'packageId', 'package_not_found'],
    [{ packageId: '' }, 'packageId', 'invalid_request'],
    [{}, 'packageId', 'invalid_request'],
  ])('refuses %j with 400 naming the field, and calls Stripe for nothing', async (body, param, code) => {
    const { key } = await customer(env);
    const before = env.fake.requests.length;
    const response = await env.gw.request('POST', '/account/checkout', { key, body });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ param, code, type: 'invalid_request_error' });
    expect(env.fake.requests.length).toBe(before);
  });

  it('refuses an inactive package', async () => {
    const { key } = await customer(env);
    const inactive = await smallPackage(env);
    await env.sql`update packages set active = false where id = ${inactive}`;
    const response = await env.gw.request('POST', '/account/checkout', { key, body: { packageId: inactive } });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('package_not_found');
  });

  it('answers 502 with Stripe\'s reason when Stripe refuses the session', async () => {
    const { key } = await customer(env);
    env.fake.failNextSession = 'Invalid currency: xyz.';
    const response = await env.gw.request('POST', '/account/checkout', { key, body: { packageId: 'pkg_starter' } });
    expect(response.status).toBe(502);
    expect(response.body.error).toMatchObject({ code: 'stripe_error', type: 'upstream_error' });
    expect(response.body.error.message).toContain('Invalid currency: xyz.');
  });

  it('needs a key', async () => {
    const response = await env.gw.request('POST', '/account/checkout', { body: { packageId: 'pkg_starter' } });
    expect(response.status).toBe(401);
  });
});

describe('PATCH /account/settings', () => {
  it('sets the low-balance threshold and auto-recharge, and GET /account shows them', async () => {
    const { key } = await customer(env);
    const pkg = await smallPackage(env);
    const response = await env.gw.request('PATCH', '/account/settings', {
      key,
      body: { lowBalanceThreshold: 2_500, autoRecharge: { enabled: true, threshold: 1_000, packageId: pkg, monthlyLimitTokens: 9_000 } },
    });
    expect(response.status).toBe(200);
    const expected = {
      lowBalanceThreshold: 2_500,
      autoRecharge: { enabled: true, threshold: 1_000, packageId: pkg, monthlyLimitTokens: 9_000, consecutiveFailures: 0, lastFailure: null, retryAfter: null },
    };
    expect(response.body).toMatchObject(expected);
    expect((await env.gw.request('GET', '/account', { key })).body).toMatchObject(expected);

    // A partial auto-recharge object changes only what it names; null puts the threshold back to the default.
    const partial = await env.gw.request('PATCH', '/account/settings', { key, body: { lowBalanceThreshold: null, autoRecharge: { enabled: false } } });
    expect(partial.status).toBe(200);
    expect(partial.body).toMatchObject({ lowBalanceThreshold: 100_000, autoRecharge: { enabled: false, threshold: 1_000, packageId: pkg, monthlyLimitTokens: 9_000 } });
  });

  it.each([
    [{ lowBalanceThreshold: -1 }, 'lowBalanceThreshold'],
    [{ lowBalanceThreshold: 1.5 }, 'lowBalanceThreshold'],
    [{ autoRecharge: { enabled: 'yes' } }, 'autoRecharge.enabled'],
    [{ autoRecharge: { threshold: -5 } }, 'autoRecharge.threshold'],
    [{ autoRecharge: { enabled: true, packageId: 'pkg_missing' } }, 'autoRecharge.packageId'],
    [{ autoRecharge: { packageId: 'pkg_missing' } }, 'autoRecharge.packageId'],
    [{ autoRecharge: { enabled: true, packageId: 'pkg_starter', monthlyLimitTokens: 10 } }, 'autoRecharge.monthlyLimitTokens'],
    [{ autoRecharge: { enabled: true, colour: 'blue' } }, 'autoRecharge.colour'],
    [{ lowBalanceTreshold: 5 }, 'lowBalanceTreshold'],
  ])('refuses %j with 400 naming %s, and changes nothing', async (body, param) => {
    const { key } = await customer(env);
    const before = (await env.gw.request('GET', '/account', { key })).body;
    const response = await env.gw.request('PATCH', '/account/settings', { key, body });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ param, type: 'invalid_request_error' });
    expect(response.body.error.message).toContain(param);
    expect((await env.gw.request('GET', '/account', { key })).body).toEqual(before);
  });

  it('changes only the key\'s own account', async () => {
    const mine = await customer(env);
    const other = await customer(env);
    await env.gw.request('PATCH', '/account/settings', { key: mine.key, body: { lowBalanceThreshold: 7 } });
    expect((await env.gw.request('GET', '/account', { key: other.key })).body.lowBalanceThreshold).toBe(100_000);
  });
});

describe('without Stripe configured', () => {
  let gw: TestGateway;
  let fake: FakeStripe;
  beforeAll(async () => {
    fake = await startFakeStripe();
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
    await fake?.stop();
  });

  it('checkout and enabling auto-recharge answer 503 stripe_not_configured; /packages still lists', async () => {
    const account = await accountWithBalance(gw, 0);
    const key = await keyFor(gw, account);
    const checkoutResponse = await gw.request('POST', '/account/checkout', { key, body: { packageId: 'pkg_starter' } });
    expect(checkoutResponse.status).toBe(503);
    expect(checkoutResponse.body.error).toMatchObject({ code: 'stripe_not_configured', type: 'api_error' });
    const enable = await gw.request('PATCH', '/account/settings', { key, body: { autoRecharge: { enabled: true } } });
    expect(enable.status).toBe(503);
    expect((await gw.request('GET', '/packages')).body.data).toHaveLength(3);
  });

  it('the webhook answers 503 (Stripe retries it later) and writes nothing', async () => {
    const event = fake.event('checkout.session.completed', { id: 'cs_x', object: 'checkout.session' });
    const response = await deliver(gw.url, event, { secret: stripeEnv(fake).STRIPE_WEBHOOK_SECRET });
    expect(response.status).toBe(503);
    expect(response.body.error?.code).toBe('stripe_not_configured');
  });
});
