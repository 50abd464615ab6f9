// Shared set-up for the Stripe tests: a fake Stripe API and a gateway pointed at it, a Postgres client
// on the gateway's database, and, after every test, the ledger check (balance == sum(ledger)).
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { deliver, startFakeStripe, stripeEnv, type FakeStripe } from '../helpers/fake-stripe.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from '../helpers/harness.js';

export interface StripeEnv {
  readonly gw: TestGateway;
  readonly fake: FakeStripe;
  readonly sql: postgres.Sql;
}

export function useStripeEnv(options: TestGatewayOptions = {}): StripeEnv {
  let state: { gw: TestGateway; fake: FakeStripe; sql: postgres.Sql } | undefined;
  beforeAll(async () => {
    const fake = await startFakeStripe();
    const gw = await startTestGateway({ ...options, env: { ...stripeEnv(fake), ...options.env } });
    state = { gw, fake, sql: postgres(gw.database.url, { max: 4, onnotice: () => {} }) };
  });
  afterEach(async () => {
    if (state) await expectLedgerBalanced(state.gw);
  });
  afterAll(async () => {
    await state?.sql.end();
    await state?.gw.stop();
    await state?.fake.stop();
  });
  const running = () => {
    if (!state) throw new Error('the Stripe environment starts in beforeAll');
    return state;
  };
  return {
    get gw() {
      return running().gw;
    },
    get fake() {
      return running().fake;
    },
    get sql() {
      return running().sql;
    },
  };
}

/** SPEC 2.2 after every test: every account's balance equals the sum of its ledger. */
export async function expectLedgerBalanced(gw: TestGateway): Promise<void> {
  const reconcile = await gw.request('GET', '/admin/reconcile', { key: gw.adminKey });
  expect(reconcile.status).toBe(200);
  expect(reconcile.body.mismatches).toEqual([]);
  expect(reconcile.body.ok).toBe(true);
}

/** A fresh account with `balance` tokens and a user key for it. */
export async function customer(env: StripeEnv, balance = 0): Promise<{ accountId: string; key: string }> {
  const account = await accountWithBalance(env.gw, balance);
  return { accountId: account.id, key: await keyFor(env.gw, account) };
}

/** POST /account/checkout, expecting it to work. */
export async function checkout(env: StripeEnv, key: string, packageId: string): Promise<{ id: string; url: string }> {
  const response = await env.gw.request('POST', '/account/checkout', { key, body: { packageId } });
  expect(response.status).toBe(201);
  return response.body;
}

/** Checkout, pay, and the checkout.session.completed webhook: the whole purchase. */
export async function buy(env: StripeEnv, key: string, packageId: string): Promise<{ sessionId: string; paymentIntentId: string }> {
  const { id } = await checkout(env, key, packageId);
  const session = env.fake.completeSession(id, 'paid');
  const delivered = await deliver(env.gw.url, env.fake.event('checkout.session.completed', session));
  expect(delivered).toMatchObject({ status: 200, body: { outcome: 'processed' } });
  return { sessionId: id, paymentIntentId: session.payment_intent as string };
}

export async function balanceOf(env: StripeEnv, key: string): Promise<number> {
  const response = await env.gw.request('GET', '/account', { key });
  expect(response.status).toBe(200);
  return response.body.balance as number;
}

export interface LedgerRow {
  type: string;
  amount: number;
  reference: string;
  metadata: Record<string, unknown>;
}

export async function ledgerOf(env: StripeEnv, accountId: string): Promise<LedgerRow[]> {
  const rows = await env.sql`select type, amount::int, reference, metadata from ledger_entries where account_id = ${accountId} order by id`;
  return rows as unknown as LedgerRow[];
}

/** A small package, so tests can cross thresholds with a few requests. */
export async function smallPackage(env: StripeEnv, tokens = 3_000, priceCents = 300, currency = 'usd'): Promise<string> {
  const id = `pkg_test_${Math.random().toString(36).slice(2, 8)}`;
  await env.sql`insert into packages (id, name, tokens, price_cents, currency) values (${id}, ${'Test ' + id}, ${tokens}, ${priceCents}, ${currency})`;
  return id;
}

/** One mock chat completion that costs about 2 * outputTokens + the prompt; returns its status. */
export async function spend(env: StripeEnv, key: string, outputTokens: number): Promise<{ status: number; cost: number }> {
  const response = await fetch(`${env.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-output-tokens': String(outputTokens) },
    body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hi' }], max_tokens: outputTokens }),
  });
  await response.arrayBuffer();
  return { status: response.status, cost: Number(response.headers.get('x-tokengate-cost') ?? 0) };
}

/** Writes every queued settlement into Postgres (and so runs the settlement listeners). */
export async function settleAll(env: StripeEnv): Promise<void> {
  while ((await env.gw.gateway.deps.settler.flushOnce()) > 0);
}
