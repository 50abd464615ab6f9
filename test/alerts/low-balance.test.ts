// Low-balance alerts: one alert per crossing below the threshold (not one per request), shown on
// GET /account, re-armed by a credit that lifts the balance back; and a signed webhook event to a
// local receiver, with retries, no redirects, and loopback addresses refused unless allowed.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';
import { MOCK, postChat, settleAll } from '../proxy/support.js';

const env = useTestGateway();

const THRESHOLD = 500_000; // the default lowBalanceThreshold (config/settings.json)
const SECRET = 'whsec_test_5b7c1f0e9d2a4c68';
const messages = [{ role: 'user' as const, content: 'Count to three.' }];
const COST = estimatePromptTokens({ model: 'mock', messages }, MOCK.encoding) + 2 * 5; // 5 output tokens at 2 each

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on 127.0.0.1: answers each request with the next status (then 200). */
function startReceiver() {
  const received: Received[] = [];
  let answers: number[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.shift() ?? 200;
      response.writeHead(status, status === 302 ? { location: '/elsewhere' } : {}).end();
      for (const waiter of waiters.filter((w) => received.length >= w.count)) waiter.resolve();
    });
  });
  return {
    received,
    server,
    answerNext: (...statuses: number[]) => (answers = statuses),
    reset: () => {
      received.length = 0;
      answers = [];
    },
    waitFor: (count: number) => new Promise<void>((resolve) => (received.length >= count ? resolve() : waiters.push({ count, resolve }))),
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    port: () => (server.address() as AddressInfo).port,
  };
}

const receiver = startReceiver();
beforeAll(() => new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve)));
afterAll(() => new Promise<void>((resolve) => receiver.server.close(() => resolve())));
beforeEach(async () => {
  receiver.reset();
  await setWebhook(null);
});

async function setWebhook(webhook: { url: string; allowPrivateAddresses: boolean } | null) {
  // PATCH /admin/settings validates the same schema; this branch sets it through the settings store.
  await env.gw.gateway.deps.settings.update({ alertWebhook: webhook ? { ...webhook, secret: SECRET } : { url: null, secret: null, allowPrivateAddresses: false } });
}

/** An account whose balance sits exactly `above` tokens over the threshold, and a key for it. */
async function accountAbove(above: number) {
  const account = await accountWithBalance(env.gw, THRESHOLD + above);
  return { account, key: await keyFor(env.gw, account) };
}

async function spend(key: string): Promise<void> {
  const response = await postChat(env.gw, key, { model: 'mock', messages, max_tokens: 5 }, { headers: { 'x-mock-output-tokens': '5' } });
  expect(response.status).toBe(200);
  expect(Number(response.headers.get('x-tokengate-cost'))).toBe(COST);
  await response.arrayBuffer();
}

/** Every settlement written and every alert check it triggered done. */
async function settled(): Promise<void> {
  await settleAll(env.gw);
  await env.gw.gateway.deps.alerts.idle();
}

async function alertsOf(accountId: string) {
  return env.sql<{ id: string; threshold: number; available: number; webhook_status: string; webhook_attempts: number; webhook_error: string | null }[]>`
    select id, threshold::int, available::int, webhook_status, webhook_attempts, webhook_error from balance_alerts where account_id = ${accountId} order by created_at`;
}

async function grant(accountId: string, amount: number, idempotencyKey: string) {
  const response = await env.gw.request('POST', `/admin/accounts/${accountId}/grants`, { key: env.gw.adminKey, body: { amount, reason: 'top up', idempotencyKey: `${accountId}:${idempotencyKey}` } });
  expect(response.status).toBe(201);
}

/** Polls the alert row until its webhook leaves `pending` (the delivery records it after the answer). */
async function finalWebhook(accountId: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [alert] = await alertsOf(accountId);
    if (alert && alert.webhook_status !== 'pending') return alert;
    if (Date.now() > deadline) throw new Error(`webhook still ${alert?.webhook_status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('recording crossings', () => {
  it('a balance at the threshold is not low; a burst of requests below it records one alert, shown on GET /account', async () => {
    const { account, key } = await accountAbove(COST);
    await spend(key);
    await settled();
    expect(await alertsOf(account.id)).toEqual([]); // exactly at the threshold
    expect((await env.gw.request('GET', '/account', { key })).body.lowBalanceAlert).toBeNull();

    // Three crossings' worth in one burst, settled in whatever batches, then three more one by one.
    await Promise.all([spend(key), spend(key), spend(key)]);
    await settled();
    for (let i = 0; i < 3; i++) {
      await spend(key);
      await settled();
    }
    const alerts = await alertsOf(account.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ threshold: THRESHOLD, webhook_status: 'none' });
    expect(alerts[0]!.available).toBeLessThan(THRESHOLD);

    const view = await env.gw.request('GET', '/account', { key });
    expect(view.body.lowBalanceAlert).toMatchObject({ id: alerts[0]!.id, threshold: THRESHOLD, available: alerts[0]!.available, webhook: { status: 'none', attempts: 0, deliveredAt: null } });
    expect(view.body.lowBalanceThreshold).toBe(THRESHOLD);
  });

  it('a credit that lifts the balance back above re-arms the alert; one that does not, does not', async () => {
    const { account, key } = await accountAbove(COST);
    await spend(key);
    await spend(key);
    await settled();
    expect(await alertsOf(account.id)).toHaveLength(1);

    await grant(account.id, COST - 1, 'small'); // to threshold - 1: still low, so not re-armed
    await spend(key);
    await settled();
    expect(await alertsOf(account.id)).toHaveLength(1);

    await grant(account.id, 10 * COST, 'lift'); // above again
    await settled();
    await spend(key);
    await settled();
    expect(await alertsOf(account.id)).toHaveLength(1); // still above after one request
    for (let i = 0; i < 10; i++) await spend(key);
    await settled();
    expect(await alertsOf(account.id)).toHaveLength(2);
  });
});

describe('the alert webhook', () => {
  it('receives one event per alert, signed HMAC-SHA256 over "<t>.<body>" with the shared secret', async () => {
    await setWebhook({ url: `${receiver.url()}/hooks/tokengate`, allowPrivateAddresses: true });
    const { account, key } = await accountAbove(COST);
    await spend(key);
    await spend(key);
    await spend(key);
    await settled();
    await receiver.waitFor(1);
    const alert = await finalWebhook(account.id);
    expect(alert).toMatchObject({ webhook_status: 'delivered', webhook_attempts: 1, webhook_error: null });
    expect(receiver.received).toHaveLength(1);

    const { headers, body, path } = receiver.received[0]!;
    expect(path).toBe('/hooks/tokengate');
    expect(headers['content-type']).toBe('application/json');
    const signature = String(headers['x-tokengate-signature']);
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
    expect(match, signature).not.toBeNull();
    const [, timestamp, digest] = match!;
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
    expect(digest).toBe(createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex'));
    // A body changed in transit would not verify.
    expect(digest).not.toBe(createHmac('sha256', SECRET).update(`${timestamp}.${body} `).digest('hex'));

    const event = JSON.parse(body);
    expect(event).toEqual({
      id: `evt_${alert.id}`,
      type: 'account.balance_low',
      created: expect.any(Number),
      data: { alertId: alert.id, accountId: account.id, balance: expect.any(Number), available: alert.available, threshold: THRESHOLD, createdAt: expect.any(String) },
    });
    expect((await env.gw.request('GET', '/account', { key })).body.lowBalanceAlert.webhook).toMatchObject({ status: 'delivered', attempts: 1, deliveredAt: expect.any(String) });
  });

  it('retries a failing receiver with backoff, and never follows a redirect', async () => {
    await setWebhook({ url: `${receiver.url()}/hooks`, allowPrivateAddresses: true });
    receiver.answerNext(503);
    const first = await accountAbove(COST);
    await spend(first.key);
    await spend(first.key);
    await settled();
    await receiver.waitFor(2);
    expect(await finalWebhook(first.account.id)).toMatchObject({ webhook_status: 'delivered', webhook_attempts: 2 });
    expect(receiver.received[0]!.body).toBe(receiver.received[1]!.body); // the same event, signed again

    receiver.reset();
    receiver.answerNext(302);
    const second = await accountAbove(COST);
    await spend(second.key);
    await spend(second.key);
    await settled();
    await receiver.waitFor(1);
    const alert = await finalWebhook(second.account.id);
    expect(alert).toMatchObject({ webhook_status: 'failed', webhook_attempts: 1 });
    expect(alert.webhook_error).toMatch(/redirect/);
    expect(receiver.received.map((r) => r.path)).toEqual(['/hooks']); // /elsewhere was never asked
  });

  it('refuses a loopback URL unless allowPrivateAddresses is on, checking the address the name resolves to', async () => {
    // Set through the settings: refused outright.
    await expect(setWebhook({ url: `${receiver.url()}/hooks`, allowPrivateAddresses: false })).rejects.toThrow(/loopback or private/);
    await expect(setWebhook({ url: `http://localhost:${receiver.port()}/hooks`, allowPrivateAddresses: false })).rejects.toThrow(/loopback or private/);

    // Stored some other way (an operator's UPDATE, or rules changed since): delivery resolves the
    // name, finds loopback, and refuses it without connecting.
    const hook = { url: `http://localhost:${receiver.port()}/hooks`, secret: SECRET, allowPrivateAddresses: false };
    await env.sql`update settings set value = ${env.sql.json(hook)} where key = 'alertWebhook'`;
    await env.gw.gateway.deps.shared.publish({ kind: 'settings' });
    const { account, key } = await accountAbove(COST);
    await spend(key);
    await spend(key);
    await settled();
    const refused = await finalWebhook(account.id);
    expect(refused).toMatchObject({ webhook_status: 'refused', webhook_attempts: 1 });
    expect(refused.webhook_error).toMatch(/resolves to (127\.0\.0\.1|::1)/);
    expect(receiver.received).toHaveLength(0);

    // Allowed: the same receiver gets the next alert.
    await setWebhook({ url: `http://localhost:${receiver.port()}/hooks`, allowPrivateAddresses: true });
    await grant(account.id, 10 * COST, 'lift');
    for (let i = 0; i < 12; i++) await spend(key);
    await settled();
    await receiver.waitFor(1);
    expect((await alertsOf(account.id)).map((a) => a.webhook_status)).toEqual(['refused', 'delivered']);
  });
});
