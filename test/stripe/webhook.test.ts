// POST /stripe/webhook: signatures, idempotent credits, delayed payments (issue 12).
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { deliver, WEBHOOK_SECRET } from '../helpers/fake-stripe.js';
import { balanceOf, buy, checkout, customer, ledgerOf, useStripeEnv } from './support.js';

const env = useStripeEnv();

const STARTER = 5_000_000;

async function countRows(): Promise<{ events: number; ledger: number }> {
  const [row] = await env.sql`select (select count(*) from stripe_events)::int as events, (select count(*) from ledger_entries)::int as ledger`;
  return row as unknown as { events: number; ledger: number };
}

describe('checkout.session.completed', () => {
  it('credits the package once, with the payment intent as reference, and resets the balance mirror', async () => {
    const { accountId, key } = await customer(env, 1_000);
    expect(await balanceOf(env, key)).toBe(1_000); // the Redis mirror is loaded now
    const { sessionId, paymentIntentId } = await buy(env, key, 'pkg_starter');
    expect(await balanceOf(env, key)).toBe(1_000 + STARTER);
    const ledger = await ledgerOf(env, accountId);
    expect(ledger.at(-1)).toEqual({
      type: 'purchase',
      amount: STARTER,
      reference: paymentIntentId,
      metadata: { source: 'stripe', amountCents: 500, currency: 'usd', packageId: 'pkg_starter', checkoutSessionId: sessionId, paymentIntentId },
    });
    const [event] = await env.sql`select type, account_id from stripe_events where account_id = ${accountId}`;
    expect(event).toEqual({ type: 'checkout.session.completed', account_id: accountId });
  });

  it('the same event delivered 5 times at once credits once; every delivery gets 200', async () => {
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, 'pkg_starter');
    const event = env.fake.event('checkout.session.completed', env.fake.completeSession(id));
    const deliveries = await Promise.all(Array.from({ length: 5 }, () => deliver(env.gw.url, event)));
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200, 200, 200]);
    expect(deliveries.map((d) => d.body.outcome).sort()).toEqual(['processed', 'replayed', 'replayed', 'replayed', 'replayed']);
    expect((await ledgerOf(env, accountId)).filter((r) => r.type === 'purchase')).toHaveLength(1);
    expect(await balanceOf(env, key)).toBe(STARTER);
  });

  it('a replay days later changes nothing', async () => {
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, 'pkg_starter');
    const event = env.fake.event('checkout.session.completed', env.fake.completeSession(id));
    expect((await deliver(env.gw.url, event)).body.outcome).toBe('processed');
    await buy(env, key, 'pkg_starter'); // other activity in between
    const before = await ledgerOf(env, accountId);
    // Stripe re-signs a redelivery with the time it is sent; the event id is what stays.
    const later = await deliver(env.gw.url, event, { timestamp: Math.floor(Date.now() / 1000) });
    expect(later).toMatchObject({ status: 200, body: { outcome: 'replayed' } });
    expect(await ledgerOf(env, accountId)).toEqual(before);
    expect(await balanceOf(env, key)).toBe(2 * STARTER);
  });

  it('a second, different event about the same payment credits nothing', async () => {
    const { accountId, key } = await customer(env);
    const { sessionId } = await buy(env, key, 'pkg_starter');
    const session = env.fake.sessions.get(sessionId)!;
    const second = await deliver(env.gw.url, env.fake.event('checkout.session.async_payment_succeeded', structuredClone(session)));
    expect(second).toMatchObject({ status: 200, body: { outcome: 'processed' } });
    expect((await ledgerOf(env, accountId)).filter((r) => r.type === 'purchase')).toHaveLength(1);
    expect(await balanceOf(env, key)).toBe(STARTER);
  });

  it('an unpaid completion (delayed payment method) credits nothing until async_payment_succeeded', async () => {
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, 'pkg_starter');
    const unpaid = await deliver(env.gw.url, env.fake.event('checkout.session.completed', env.fake.completeSession(id, 'unpaid')));
    expect(unpaid).toMatchObject({ status: 200, body: { outcome: 'processed' } });
    expect(await balanceOf(env, key)).toBe(0);
    expect(await ledgerOf(env, accountId)).toEqual([]);

    const settled = await deliver(env.gw.url, env.fake.event('checkout.session.async_payment_succeeded', env.fake.settleSession(id)));
    expect(settled.status).toBe(200);
    expect(await balanceOf(env, key)).toBe(STARTER);
    expect((await ledgerOf(env, accountId)).map((r) => r.type)).toEqual(['purchase']);
  });

  it('async_payment_failed credits nothing', async () => {
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, 'pkg_starter');
    const session = env.fake.completeSession(id, 'unpaid');
    await deliver(env.gw.url, env.fake.event('checkout.session.completed', session));
    const failed = await deliver(env.gw.url, env.fake.event('checkout.session.async_payment_failed', session));
    expect(failed.status).toBe(200);
    expect(await ledgerOf(env, accountId)).toEqual([]);
  });

  it('ignores (200, nothing written) sessions tokengate did not create and event types it does not handle', async () => {
    const before = await countRows();
    const foreign = { id: 'cs_test_foreign', object: 'checkout.session', mode: 'payment', payment_status: 'paid', payment_intent: 'pi_foreign', metadata: {}, amount_total: 100, currency: 'usd' };
    const other = await deliver(env.gw.url, env.fake.event('checkout.session.completed', foreign));
    expect(other).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
    const unknownAccount = { ...foreign, metadata: { tokengate_account_id: 'acct_of_another_deployment', tokengate_tokens: '5' } };
    expect((await deliver(env.gw.url, env.fake.event('checkout.session.completed', unknownAccount))).body.outcome).toBe('ignored');
    expect((await deliver(env.gw.url, env.fake.event('customer.created', { id: 'cus_x', object: 'customer' }))).body.outcome).toBe('ignored');
    expect(await countRows()).toEqual(before);
  });
});

interface Tampering {
  secret?: string;
  timestamp?: number;
  signature?: string | null;
  body: string;
}

describe('signature checks: 400 and nothing written', () => {
  async function paidEvent() {
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, 'pkg_starter');
    return { accountId, key, event: env.fake.event('checkout.session.completed', env.fake.completeSession(id)) };
  }

  it.each<[string, (payload: string) => Tampering]>([
    ['a forged signature (another secret)', (payload: string) => ({ secret: 'whsec_not_the_real_one', body: payload })],
    ['a stale timestamp (10 minutes old)', (payload: string) => ({ timestamp: Math.floor(Date.now() / 1000) - 600, body: payload })],
    ['a modified body', (payload: string) => ({ body: payload.replace('"5000000"', '"50000000"') })],
    ['a missing header', (payload: string) => ({ signature: null, body: payload })],
    ['a header without a v1 signature', (payload: string) => ({ signature: `t=${Math.floor(Date.now() / 1000)}`, body: payload })],
  ])('%s', async (_name, tamper) => {
    const { accountId, key, event } = await paidEvent();
    const payload = JSON.stringify(event, null, 2);
    const options = tamper(payload);
    // Signed over the original payload (with the given secret or time), then sent with options.body.
    const signature =
      options.signature !== undefined ? options.signature : Stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? WEBHOOK_SECRET, timestamp: options.timestamp });
    expect(options.body).toContain(event.id);
    const before = await countRows();
    const response = await deliver(env.gw.url, payload, { signature, body: options.body });
    expect(response.status).toBe(400);
    expect(response.body.error?.code).toBe('invalid_signature');
    expect(await countRows()).toEqual(before);
    expect(await ledgerOf(env, accountId)).toEqual([]);
    expect(await balanceOf(env, key)).toBe(0);
    // The genuine delivery still works afterwards.
    expect((await deliver(env.gw.url, event)).body.outcome).toBe('processed');
  });

  it('a correctly signed body that is not JSON is 400', async () => {
    const response = await deliver(env.gw.url, 'not json');
    expect(response.status).toBe(400);
  });
});
