// Auto-recharge (issue 12): one off-session PaymentIntent per account at a time, the monthly limit,
// failures that back off and turn it off after three in a row, tokens only from payment_intent.succeeded.
import { describe, expect, it } from 'vitest';
import { AutoRecharger } from '../../src/stripe/auto-recharge.js';
import { deliver } from '../helpers/fake-stripe.js';
import { balanceOf, checkout, customer, ledgerOf, settleAll, smallPackage, spend, useStripeEnv, type StripeEnv } from './support.js';

interface Rechargeable {
  accountId: string;
  key: string;
  packageId: string;
  customerId: string;
}

/** An account with auto-recharge on (a 3,000-token package) and a Stripe customer with a saved card. */
async function rechargeable(env: StripeEnv, options: { balance?: number; threshold?: number; monthlyLimitTokens?: number } = {}): Promise<Rechargeable> {
  const packageId = await smallPackage(env, 3_000, 300);
  const { accountId, key } = await customer(env, options.balance ?? 5_000);
  const settings = await env.gw.request('PATCH', '/account/settings', {
    key,
    body: { autoRecharge: { enabled: true, threshold: options.threshold ?? 4_000, packageId, monthlyLimitTokens: options.monthlyLimitTokens ?? 30_000 } },
  });
  expect(settings.status).toBe(200);
  await checkout(env, key, packageId); // creates the Stripe customer (the fake gives every customer one card)
  const [row] = await env.sql`select stripe_customer_id from accounts where id = ${accountId}`;
  return { accountId, key, packageId, customerId: row!.stripe_customer_id as string };
}

/** Spends, settles, and waits for the auto-recharge checks the settlement started. */
async function spendAndSettle(env: StripeEnv, key: string, outputTokens: number, times = 1): Promise<void> {
  const results = await Promise.all(Array.from({ length: times }, () => spend(env, key, outputTokens)));
  expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
  await settleAll(env);
  await env.gw.gateway.deps.autoRecharge!.idle();
}

function intentsOf(env: StripeEnv, customerId: string) {
  return env.fake.requestsTo('POST', '/v1/payment_intents').filter((r) => r.body.customer === customerId);
}

async function attemptsOf(env: StripeEnv, accountId: string) {
  return env.sql`select status, payment_intent_id, tokens::int, error_code from auto_recharge_attempts where account_id = ${accountId} order by created_at`;
}

async function autoRechargeView(env: StripeEnv, key: string) {
  const response = await env.gw.request('GET', '/account', { key });
  expect(response.status).toBe(200);
  return response.body.autoRecharge;
}

describe('auto-recharge', () => {
  const env = useStripeEnv();

  it('20 concurrent requests that cross the threshold start exactly one PaymentIntent; success credits once, replays or not', async () => {
    const account = await rechargeable(env);
    await spendAndSettle(env, account.key, 32, 20);
    const balance = await balanceOf(env, account.key);
    expect(balance).toBeLessThan(4_000);

    const intents = intentsOf(env, account.customerId);
    expect(intents).toHaveLength(1);
    const [attempt] = await attemptsOf(env, account.accountId);
    const request = intents[0]!;
    expect(request.body).toMatchObject({
      amount: '300',
      currency: 'usd',
      customer: account.customerId,
      payment_method: `pm_card_${account.customerId}`,
      off_session: 'true',
      confirm: 'true',
      metadata: { tokengate_kind: 'auto_recharge', tokengate_account_id: account.accountId, tokengate_package_id: account.packageId, tokengate_tokens: '3000' },
    });
    const attemptId = (request.body.metadata as Record<string, string>).tokengate_attempt_id;
    expect(request.idempotencyKey).toBe(`tokengate-auto-recharge-${attemptId}`);
    expect(attempt).toMatchObject({ status: 'pending', tokens: 3_000 });

    // The PaymentIntent succeeded at Stripe, but nothing is credited before its webhook; more usage
    // below the threshold starts no second one while it is pending.
    await spendAndSettle(env, account.key, 32);
    expect(intentsOf(env, account.customerId)).toHaveLength(1);
    expect((await ledgerOf(env, account.accountId)).map((r) => r.type)).not.toContain('auto_recharge');
    const beforeCredit = await balanceOf(env, account.key);

    const intent = env.fake.intents.get(attempt!.payment_intent_id as string)!;
    const succeeded = env.fake.event('payment_intent.succeeded', intent);
    const deliveries = await Promise.all([deliver(env.gw.url, succeeded), deliver(env.gw.url, succeeded), deliver(env.gw.url, succeeded)]);
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200]);
    expect((await deliver(env.gw.url, succeeded)).body.outcome).toBe('replayed');
    const credits = (await ledgerOf(env, account.accountId)).filter((r) => r.type === 'auto_recharge');
    expect(credits).toEqual([
      {
        type: 'auto_recharge',
        amount: 3_000,
        reference: intent.id,
        metadata: { source: 'stripe', amountCents: 300, currency: 'usd', packageId: account.packageId, attemptId, paymentIntentId: intent.id },
      },
    ]);
    expect(await balanceOf(env, account.key)).toBe(beforeCredit + 3_000);
    expect((await attemptsOf(env, account.accountId))[0]).toMatchObject({ status: 'succeeded' });
  });

  it('two instances settling the same account at once start one PaymentIntent (the lock is in Postgres)', async () => {
    const account = await rechargeable(env, { balance: 3_000 });
    const { db, holds, stripe, settings, log } = env.gw.gateway.deps;
    const instances = [1, 2, 3].map(() => new AutoRecharger({ db, holds, stripe: stripe!, settings, log, retrySeconds: 900 }));
    for (const instance of instances) instance.onSettled([account.accountId]);
    await Promise.all(instances.map((instance) => instance.close()));
    expect(intentsOf(env, account.customerId)).toHaveLength(1);
    expect(await attemptsOf(env, account.accountId)).toHaveLength(1);
  });

  it('never recharges beyond the monthly limit', async () => {
    const account = await rechargeable(env, { monthlyLimitTokens: 3_000 });
    await spendAndSettle(env, account.key, 32, 20);
    const [attempt] = await attemptsOf(env, account.accountId);
    await deliver(env.gw.url, env.fake.event('payment_intent.succeeded', env.fake.intents.get(attempt!.payment_intent_id as string)!));
    expect(await balanceOf(env, account.key)).toBeGreaterThan(4_000);

    await spendAndSettle(env, account.key, 700, 2);
    expect(await balanceOf(env, account.key)).toBeLessThan(4_000);
    expect(intentsOf(env, account.customerId)).toHaveLength(1);
    expect(await attemptsOf(env, account.accountId)).toHaveLength(1);
  });

  it('does nothing while the balance stays above the threshold, or when auto-recharge is off', async () => {
    const above = await rechargeable(env, { balance: 10_000 });
    await spendAndSettle(env, above.key, 32, 3);
    expect(intentsOf(env, above.customerId)).toHaveLength(0);

    const off = await rechargeable(env);
    await env.gw.request('PATCH', '/account/settings', { key: off.key, body: { autoRecharge: { enabled: false } } });
    await spendAndSettle(env, off.key, 32, 20);
    expect(intentsOf(env, off.customerId)).toHaveLength(0);
  });

  it('a failure is shown on GET /account and backs off: the next settlement starts nothing', async () => {
    const account = await rechargeable(env);
    env.fake.intentOutcomes.push({ error: 'card_declined', declineCode: 'insufficient_funds' });
    await spendAndSettle(env, account.key, 32, 20);
    expect(intentsOf(env, account.customerId)).toHaveLength(1);
    const view = await autoRechargeView(env, account.key);
    expect(view).toMatchObject({
      enabled: true,
      consecutiveFailures: 1,
      lastFailure: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card was declined.', paymentIntentId: expect.stringMatching(/^pi_/) },
    });
    const retryIn = Date.parse(view.retryAfter) - Date.now();
    expect(retryIn).toBeGreaterThan(800_000); // 900 s after the first failure
    expect(retryIn).toBeLessThanOrEqual(900_000);

    await spendAndSettle(env, account.key, 32);
    expect(intentsOf(env, account.customerId)).toHaveLength(1);
    expect(await attemptsOf(env, account.accountId)).toMatchObject([{ status: 'failed', error_code: 'card_declined' }]);
  });

  it('a payment that fails after processing is recorded once from payment_intent.payment_failed', async () => {
    const account = await rechargeable(env);
    env.fake.intentOutcomes.push('processing');
    await spendAndSettle(env, account.key, 32, 20);
    const [attempt] = await attemptsOf(env, account.accountId);
    expect(attempt).toMatchObject({ status: 'pending' });
    const intent = {
      ...env.fake.intents.get(attempt!.payment_intent_id as string)!,
      status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'do_not_honor', message: 'Your card was declined.' },
    };
    const failed = env.fake.event('payment_intent.payment_failed', intent);
    expect((await deliver(env.gw.url, failed)).status).toBe(200);
    expect((await deliver(env.gw.url, env.fake.event('payment_intent.payment_failed', intent))).status).toBe(200); // a second event, same failure
    expect(await autoRechargeView(env, account.key)).toMatchObject({ consecutiveFailures: 1, lastFailure: { code: 'card_declined', declineCode: 'do_not_honor' } });
    expect(await attemptsOf(env, account.accountId)).toMatchObject([{ status: 'failed' }]);
  });

  it('Stripe not answering is no failure: the attempt stays pending and is resumed later with the same idempotency key', async () => {
    const account = await rechargeable(env);
    env.fake.intentOutcomes.push('server_error');
    await spendAndSettle(env, account.key, 600);
    const [first] = intentsOf(env, account.customerId);
    expect(await attemptsOf(env, account.accountId)).toMatchObject([{ status: 'pending', payment_intent_id: null }]);
    expect((await autoRechargeView(env, account.key)).consecutiveFailures).toBe(0);

    // Within ten minutes nothing retries it (another instance may still be waiting for Stripe)...
    await spendAndSettle(env, account.key, 32);
    expect(intentsOf(env, account.customerId)).toHaveLength(1);
    // ...after that, the next settlement resumes it: same attempt, same key, so Stripe makes one payment.
    await env.sql`update auto_recharge_attempts set updated_at = now() - interval '11 minutes' where account_id = ${account.accountId}`;
    await spendAndSettle(env, account.key, 32);
    const requests = intentsOf(env, account.customerId);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.idempotencyKey).toBe(first!.idempotencyKey);
    expect(await attemptsOf(env, account.accountId)).toMatchObject([{ status: 'pending', payment_intent_id: expect.stringMatching(/^pi_/) }]);
  });

  it('a customer without a saved card is a recorded failure', async () => {
    const account = await rechargeable(env);
    env.fake.paymentMethods.set(account.customerId, []);
    await spendAndSettle(env, account.key, 32, 20);
    expect(intentsOf(env, account.customerId)).toHaveLength(0);
    expect(await autoRechargeView(env, account.key)).toMatchObject({ consecutiveFailures: 1, lastFailure: { code: 'no_payment_method' } });
  });
});

describe('auto-recharge without back-off (AUTO_RECHARGE_RETRY_SECONDS=0)', () => {
  const env = useStripeEnv({ env: { AUTO_RECHARGE_RETRY_SECONDS: '0' } });

  it('three failures in a row turn it off; enabling it again starts a fresh count', async () => {
    const account = await rechargeable(env);
    env.fake.intentOutcomes.push({ error: 'authentication_required' }, { error: 'card_declined' }, { error: 'card_declined', declineCode: 'lost_card' });

    // One request, one settlement, one check: without back-off, every settlement below the threshold retries.
    await spendAndSettle(env, account.key, 600);
    expect(await balanceOf(env, account.key)).toBeLessThan(4_000);
    const first = await autoRechargeView(env, account.key);
    expect(first).toMatchObject({ enabled: true, consecutiveFailures: 1, lastFailure: { code: 'authentication_required' } });
    // Stripe also sends payment_intent.payment_failed for it: the same failure is not counted twice.
    const firstIntent = env.fake.intents.get(first.lastFailure.paymentIntentId)!;
    await deliver(env.gw.url, env.fake.event('payment_intent.payment_failed', firstIntent));
    expect((await autoRechargeView(env, account.key)).consecutiveFailures).toBe(1);

    await spendAndSettle(env, account.key, 32);
    expect(await autoRechargeView(env, account.key)).toMatchObject({ enabled: true, consecutiveFailures: 2 });
    await spendAndSettle(env, account.key, 32);
    expect(await autoRechargeView(env, account.key)).toMatchObject({ enabled: false, consecutiveFailures: 3, lastFailure: { code: 'card_declined', declineCode: 'lost_card' } });
    expect(intentsOf(env, account.customerId)).toHaveLength(3);

    await spendAndSettle(env, account.key, 32);
    expect(intentsOf(env, account.customerId)).toHaveLength(3);

    const enabled = await env.gw.request('PATCH', '/account/settings', { key: account.key, body: { autoRecharge: { enabled: true } } });
    expect(enabled.body.autoRecharge).toMatchObject({ enabled: true, consecutiveFailures: 0, lastFailure: null, retryAfter: null });
    await spendAndSettle(env, account.key, 32);
    expect(intentsOf(env, account.customerId)).toHaveLength(4);
    expect((await attemptsOf(env, account.accountId)).map((a) => a.status)).toEqual(['failed', 'failed', 'failed', 'pending']);
  });

  it('a success resets the count of failures in a row', async () => {
    const account = await rechargeable(env);
    env.fake.intentOutcomes.push({ error: 'card_declined' });
    await spendAndSettle(env, account.key, 600);
    expect((await autoRechargeView(env, account.key)).consecutiveFailures).toBe(1);
    await spendAndSettle(env, account.key, 32);
    expect((await attemptsOf(env, account.accountId)).map((a) => a.status)).toEqual(['failed', 'pending']);
    const [, second] = await attemptsOf(env, account.accountId);
    await deliver(env.gw.url, env.fake.event('payment_intent.succeeded', env.fake.intents.get(second!.payment_intent_id as string)!));
    expect(await autoRechargeView(env, account.key)).toMatchObject({ enabled: true, consecutiveFailures: 0, lastFailure: null });
  });
});
