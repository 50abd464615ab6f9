// Refunds and disputes take tokens back; won disputes and failed refunds give them back; events in any
// order end in the right balance (issue 12).
import { describe, expect, it } from 'vitest';
import { deliver } from '../helpers/fake-stripe.js';
import { revenueByCurrency } from '../../src/stripe/revenue.js';
import { balanceOf, buy, checkout, customer, ledgerOf, settleAll, smallPackage, spend, useStripeEnv } from './support.js';

const env = useStripeEnv();

async function refundEvent(paymentIntentId: string, amount: number, inline = true) {
  const { charge } = env.fake.refund(paymentIntentId, amount);
  const object = inline ? env.fake.chargeWithRefunds(paymentIntentId) : charge;
  return deliver(env.gw.url, env.fake.event('charge.refunded', object));
}

async function statusOf(accountId: string): Promise<string> {
  const response = await env.gw.request('GET', `/admin/accounts/${accountId}`, { key: env.gw.adminKey });
  return response.body.status as string;
}

describe('refunds', () => {
  it('refunding half a purchase removes half its tokens (reference = the refund id)', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env, 100);
    const { paymentIntentId } = await buy(env, key, pkg);
    const response = await refundEvent(paymentIntentId, 150);
    expect(response).toMatchObject({ status: 200, body: { outcome: 'processed' } });
    expect(await balanceOf(env, key)).toBe(100 + 1_500);
    const refund = [...env.fake.refunds.values()].find((r) => r.payment_intent === paymentIntentId)!;
    expect((await ledgerOf(env, accountId)).at(-1)).toMatchObject({ type: 'refund', amount: -1_500, reference: refund.id });
  });

  it('reads the refunds from the API when charge.refunded does not carry them (API versions since 2022-11-15)', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    const before = env.fake.requestsTo('GET', '/v1/refunds').length;
    expect((await refundEvent(paymentIntentId, 100, false)).status).toBe(200);
    const listed = env.fake.requestsTo('GET', '/v1/refunds');
    expect(listed).toHaveLength(before + 1);
    expect(listed.at(-1)!.query.get('charge')).toBe(env.fake.chargeWithRefunds(paymentIntentId).id);
    expect(await balanceOf(env, key)).toBe(2_000);
  });

  it('partial refunds that add up to the whole payment take back exactly the purchase, however they round', async () => {
    const pkg = await smallPackage(env, 1_000, 300);
    const { key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    await refundEvent(paymentIntentId, 100);
    expect(await balanceOf(env, key)).toBe(666); // 333.3 rounded up
    await refundEvent(paymentIntentId, 100);
    await refundEvent(paymentIntentId, 100);
    expect(await balanceOf(env, key)).toBe(0);
  });

  it('charge.refunded and refund.created about one refund take it back once', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    const { refund } = env.fake.refund(paymentIntentId, 300);
    await deliver(env.gw.url, env.fake.event('refund.created', refund));
    await deliver(env.gw.url, env.fake.event('charge.refunded', env.fake.chargeWithRefunds(paymentIntentId)));
    expect(await balanceOf(env, key)).toBe(0);
    expect((await ledgerOf(env, accountId)).filter((r) => r.type === 'refund')).toHaveLength(1);
  });

  it('a refund that fails afterwards gives the tokens back', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    const { refund } = env.fake.refund(paymentIntentId, 300);
    await deliver(env.gw.url, env.fake.event('refund.created', refund));
    expect(await balanceOf(env, key)).toBe(0);
    await deliver(env.gw.url, env.fake.event('refund.failed', { ...refund, status: 'failed', failure_reason: 'expired_or_canceled_card' }));
    expect(await balanceOf(env, key)).toBe(3_000);
    expect((await ledgerOf(env, accountId)).at(-1)).toMatchObject({ type: 'adjustment', amount: 3_000, reference: `refund_failed:${refund.id}` });
    // An older event that still shows it succeeded does not take the tokens again.
    await deliver(env.gw.url, env.fake.event('charge.refunded', env.fake.chargeWithRefunds(paymentIntentId)));
    expect(await balanceOf(env, key)).toBe(3_000);
  });

  it('a refund after the tokens were spent leaves a negative balance that stops proxy use until a new purchase', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    const spent = await spend(env, key, 1_000);
    expect(spent.status).toBe(200);
    await settleAll(env);
    await refundEvent(paymentIntentId, 300);
    const negative = 3_000 - spent.cost - 3_000;
    expect(negative).toBeLessThan(0);
    expect(await balanceOf(env, key)).toBe(negative);
    expect(await statusOf(accountId)).toBe('active'); // not an admin suspension: the balance is what stops it
    expect((await spend(env, key, 10)).status).toBe(402);

    await buy(env, key, pkg);
    expect(await balanceOf(env, key)).toBe(negative + 3_000);
    expect((await spend(env, key, 10)).status).toBe(200);
    await settleAll(env);
  });

  it('a refund that arrives before the purchase is applied when the purchase is credited', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, pkg);
    const completed = env.fake.event('checkout.session.completed', env.fake.completeSession(id));
    const paymentIntentId = env.fake.sessions.get(id)!.payment_intent as string;
    expect((await refundEvent(paymentIntentId, 150)).status).toBe(200);
    expect(await ledgerOf(env, accountId)).toEqual([]);
    expect(await balanceOf(env, key)).toBe(0);
    expect((await deliver(env.gw.url, completed)).status).toBe(200);
    expect(await balanceOf(env, key)).toBe(1_500);
    expect((await ledgerOf(env, accountId)).map((r) => [r.type, r.amount])).toEqual([['purchase', 3_000], ['refund', -1_500]]);
  });

  it('concurrent refund and completion events end in the same balance', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { key } = await customer(env);
    const { id } = await checkout(env, key, pkg);
    const completed = env.fake.event('checkout.session.completed', env.fake.completeSession(id));
    const paymentIntentId = env.fake.sessions.get(id)!.payment_intent as string;
    env.fake.refund(paymentIntentId, 100);
    const refunded = env.fake.event('charge.refunded', env.fake.chargeWithRefunds(paymentIntentId));
    const results = await Promise.all([deliver(env.gw.url, refunded), deliver(env.gw.url, completed), deliver(env.gw.url, refunded), deliver(env.gw.url, completed)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(await balanceOf(env, key)).toBe(2_000);
  });
});

describe('disputes', () => {
  it('a dispute takes the tokens back and suspends the account; winning it gives both back', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env, 500);
    const { paymentIntentId } = await buy(env, key, pkg);
    const dispute = env.fake.dispute(paymentIntentId, 300);
    expect((await deliver(env.gw.url, env.fake.event('charge.dispute.created', dispute))).status).toBe(200);
    expect(await statusOf(accountId)).toBe('suspended');
    expect((await env.gw.request('GET', '/account', { key })).status).toBe(403);
    expect((await spend(env, key, 10)).status).toBe(403);
    expect((await ledgerOf(env, accountId)).at(-1)).toMatchObject({ type: 'dispute', amount: -3_000, reference: dispute.id });

    const won = await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...dispute, status: 'won' }));
    expect(won.status).toBe(200);
    expect(await statusOf(accountId)).toBe('active');
    expect(await balanceOf(env, key)).toBe(3_500);
    expect((await ledgerOf(env, accountId)).at(-1)).toMatchObject({ type: 'dispute_won', amount: 3_000, reference: dispute.id });
    expect((await spend(env, key, 10)).status).toBe(200);
    await settleAll(env);
  });

  it('a lost dispute keeps the tokens out and the account suspended', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    const dispute = env.fake.dispute(paymentIntentId, 300);
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', dispute));
    await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...dispute, status: 'lost' }));
    expect(await statusOf(accountId)).toBe('suspended');
    expect((await ledgerOf(env, accountId)).map((r) => r.type)).toEqual(['purchase', 'dispute']);
  });

  it('a won dispute does not lift a suspension an admin made', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    await env.gw.request('PATCH', `/admin/accounts/${accountId}`, { key: env.gw.adminKey, body: { status: 'suspended' } });
    const dispute = env.fake.dispute(paymentIntentId, 300);
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', dispute));
    await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...dispute, status: 'won' }));
    expect(await statusOf(accountId)).toBe('suspended');
    expect((await ledgerOf(env, accountId)).map((r) => r.type)).toEqual(['purchase', 'dispute', 'dispute_won']);
  });

  it('the account stays suspended until its last open dispute is won', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const first = env.fake.dispute((await buy(env, key, pkg)).paymentIntentId, 300);
    const second = env.fake.dispute((await buy(env, key, pkg)).paymentIntentId, 150);
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', first));
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', second));
    await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...first, status: 'won' }));
    expect(await statusOf(accountId)).toBe('suspended');
    await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...second, status: 'won' }));
    expect(await statusOf(accountId)).toBe('active');
    expect(await balanceOf(env, key)).toBe(6_000);
  });

  it('a dispute closed (won) before its created event arrives takes nothing and suspends nothing', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { paymentIntentId } = await buy(env, key, pkg);
    const dispute = env.fake.dispute(paymentIntentId, 300);
    await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...dispute, status: 'won' }));
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', dispute));
    expect(await statusOf(accountId)).toBe('active');
    expect(await balanceOf(env, key)).toBe(3_000);
  });

  it('a dispute that arrives before the purchase is applied (and suspends) when the purchase is credited', async () => {
    const pkg = await smallPackage(env, 3_000, 300);
    const { accountId, key } = await customer(env);
    const { id } = await checkout(env, key, pkg);
    const completed = env.fake.event('checkout.session.completed', env.fake.completeSession(id));
    const dispute = env.fake.dispute(env.fake.sessions.get(id)!.payment_intent as string, 300);
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', dispute));
    expect(await statusOf(accountId)).toBe('active');
    await deliver(env.gw.url, completed);
    expect(await statusOf(accountId)).toBe('suspended');
    expect((await ledgerOf(env, accountId)).map((r) => [r.type, r.amount])).toEqual([['purchase', 3_000], ['dispute', -3_000]]);
  });
});

describe('revenueByCurrency (for /admin/stats/tokens)', () => {
  it('sums payments per currency, minus refunds and disputes still held', async () => {
    const eur = await smallPackage(env, 2_000, 1_000, 'eur');
    const jpy = await smallPackage(env, 1_000, 500, 'jpy');
    const { key } = await customer(env);
    const a = await buy(env, key, eur);
    const b = await buy(env, key, eur);
    await buy(env, key, jpy);
    await refundEvent(a.paymentIntentId, 250);
    const dispute = env.fake.dispute(b.paymentIntentId, 1_000);
    await deliver(env.gw.url, env.fake.event('charge.dispute.created', dispute));

    const revenue = await revenueByCurrency(env.gw.gateway.deps.db);
    expect(revenue.find((r) => r.currency === 'eur')).toEqual({ currency: 'eur', payments: 2, grossCents: 2_000, refundedCents: 250, disputedCents: 1_000, netCents: 750 });
    expect(revenue.find((r) => r.currency === 'jpy')).toEqual({ currency: 'jpy', payments: 1, grossCents: 500, refundedCents: 0, disputedCents: 0, netCents: 500 });

    await deliver(env.gw.url, env.fake.event('charge.dispute.closed', { ...dispute, status: 'won' }));
    const after = await revenueByCurrency(env.gw.gateway.deps.db);
    expect(after.find((r) => r.currency === 'eur')!.netCents).toBe(1_750);
    expect(await revenueByCurrency(env.gw.gateway.deps.db, { from: new Date(Date.now() + 60_000) })).toEqual([]);
  });
});
