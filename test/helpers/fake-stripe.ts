// A fake of the parts of Stripe's API tokengate calls (customers, Checkout Sessions, PaymentIntents,
// payment methods, refunds), on a random local port. It answers like Stripe (form-encoded requests,
// JSON objects, idempotent replays, card errors as 402), records every request, and builds the
// objects and signed events that Stripe would send for what happened to them.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const FAKE_STRIPE_KEY = 'sk_test_fake_tokengate';
export const WEBHOOK_SECRET = 'whsec_test_tokengate_fake_secret';

export type Params = { [key: string]: string | Params | Params[] | string[] };

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Params;
  idempotencyKey: string | undefined;
}

/** What the next off-session PaymentIntent does: succeed, stay processing, or fail like a real card. */
export type IntentOutcome = 'succeeded' | 'processing' | 'server_error' | { error: 'authentication_required' | 'card_declined'; declineCode?: string };

type StripeObject = Record<string, unknown> & { id: string };

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

export class FakeStripe {
  readonly requests: RecordedRequest[] = [];
  readonly customers = new Map<string, StripeObject>();
  readonly sessions = new Map<string, StripeObject>();
  readonly intents = new Map<string, StripeObject>();
  readonly charges = new Map<string, StripeObject>();
  readonly refunds = new Map<string, StripeObject>();
  /** Saved cards per customer; a customer not in the map has one card. */
  readonly paymentMethods = new Map<string, string[]>();
  /** Outcomes of the next PaymentIntents, in order; 'succeeded' when empty. */
  readonly intentOutcomes: IntentOutcome[] = [];
  /** When set, the next Checkout Session creation fails with this Stripe error message (400). */
  failNextSession: string | undefined;
  /**
   * When true, Checkout Session urls point at this fake, which serves a payment page: its Pay button
   * completes the session (paid) and sends the browser to the session's success_url, as Stripe does.
   * The webhook is still the test's to deliver (paidSessions holds what to send).
   */
  hostedPages = false;
  readonly paidSessions: StripeObject[] = [];
  private readonly idempotent = new Map<string, { status: number; body: unknown }>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  // ---- what happens to objects on Stripe's side, and the events it sends about them ---------------

  /** The buyer finishes Checkout: a PaymentIntent and a charge exist; returns the completed session. */
  completeSession(sessionId: string, paymentStatus: 'paid' | 'unpaid' = 'paid'): StripeObject {
    const session = this.must(this.sessions, sessionId);
    const amount = session.amount_total as number;
    const intent = this.createIntent({ amount, currency: session.currency as string, customer: session.customer as string, metadata: ((session.payment_intent_data as Params | undefined)?.metadata as Params | undefined) ?? {} }, paymentStatus === 'paid' ? 'succeeded' : 'processing');
    Object.assign(session, { status: 'complete', payment_status: paymentStatus, payment_intent: intent.id });
    return structuredClone(session);
  }

  /** A delayed payment method settles: the session becomes paid. */
  settleSession(sessionId: string): StripeObject {
    const session = this.must(this.sessions, sessionId);
    const intent = this.must(this.intents, session.payment_intent as string);
    Object.assign(intent, { status: 'succeeded', amount_received: intent.amount });
    Object.assign(session, { payment_status: 'paid' });
    return structuredClone(session);
  }

  /** Refunds `amount` of a payment; returns the charge as charge.refunded carries it (no refunds list). */
  refund(paymentIntentId: string, amount: number, status = 'succeeded'): { charge: StripeObject; refund: StripeObject } {
    const charge = this.chargeOf(paymentIntentId);
    const refund: StripeObject = { id: id('re'), object: 'refund', amount, currency: charge.currency, status, charge: charge.id, payment_intent: paymentIntentId, created: now(), metadata: {} };
    this.refunds.set(refund.id, refund);
    const refunded = (charge.amount_refunded as number) + amount;
    Object.assign(charge, { amount_refunded: refunded, refunded: refunded >= (charge.amount as number) });
    return { charge: structuredClone(charge), refund: structuredClone(refund) };
  }

  /** The charge with its refunds expanded, as an endpoint on an old API version (or with expand) gets it. */
  chargeWithRefunds(paymentIntentId: string): StripeObject {
    const charge = structuredClone(this.chargeOf(paymentIntentId));
    const data = [...this.refunds.values()].filter((r) => r.charge === charge.id).reverse();
    return { ...charge, refunds: { object: 'list', data, has_more: false, url: `/v1/charges/${charge.id}/refunds` } };
  }

  dispute(paymentIntentId: string, amount: number, status = 'needs_response', disputeId = id('du')): StripeObject {
    const charge = this.chargeOf(paymentIntentId);
    return { id: disputeId, object: 'dispute', amount, currency: charge.currency, charge: charge.id, payment_intent: paymentIntentId, status, reason: 'fraudulent', created: now(), metadata: {}, is_charge_refundable: false };
  }

  /** A Stripe event around an object, shaped like the ones Stripe delivers. */
  event(type: string, object: Record<string, unknown>, eventId = id('evt')): Stripe.Event {
    return {
      id: eventId,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: now(),
      type,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object },
    } as unknown as Stripe.Event;
  }

  // ---- the HTTP API ----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const pay = /^\/c\/pay\/([A-Za-z0-9_]+)$/.exec(url.pathname);
    if (pay) return this.paymentPage(method, pay[1]!, res);
    const idempotencyKey = header(req, 'idempotency-key');
    const body = parseForm(raw);
    this.requests.push({ method, path: url.pathname, query: url.searchParams, body, idempotencyKey });
    if (header(req, 'authorization') !== `Bearer ${FAKE_STRIPE_KEY}`) return send(res, 401, stripeError('invalid_request_error', 'Invalid API Key provided.'));
    // Stripe replays the first answer to a POST with the same idempotency key.
    const replayKey = method === 'POST' && idempotencyKey ? `${url.pathname} ${idempotencyKey}` : undefined;
    const replayed = replayKey ? this.idempotent.get(replayKey) : undefined;
    if (replayed) return send(res, replayed.status, replayed.body);
    const [status, answer] = this.route(method, url, body);
    // A 500 tells the client not to retry, and is not kept for the key: a later retry runs afresh.
    if (status >= 500) return send(res, status, answer, { 'stripe-should-retry': 'false' });
    if (replayKey) this.idempotent.set(replayKey, { status, body: answer });
    send(res, status, answer);
  }

  private route(method: string, url: URL, body: Params): [number, unknown] {
    const path = url.pathname;
    if (method === 'POST' && path === '/v1/customers') {
      const customer: StripeObject = { id: id('cus'), object: 'customer', name: body.name ?? null, email: body.email ?? null, metadata: body.metadata ?? {}, created: now() };
      this.customers.set(customer.id, customer);
      return [200, customer];
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      if (this.failNextSession) {
        const message = this.failNextSession;
        this.failNextSession = undefined;
        return [400, stripeError('invalid_request_error', message)];
      }
      return [200, this.createSession(body)];
    }
    const methods = /^\/v1\/customers\/([^/]+)\/payment_methods$/.exec(path);
    if (method === 'GET' && methods) {
      const cards = this.paymentMethods.get(methods[1]!) ?? [`pm_card_${methods[1]}`];
      const data = cards.map((pm) => ({ id: pm, object: 'payment_method', type: 'card', customer: methods[1], card: { brand: 'visa', last4: '4242' } }));
      return [200, list(data, path)];
    }
    if (method === 'POST' && path === '/v1/payment_intents') return this.offSessionIntent(body);
    if (method === 'GET' && path === '/v1/refunds') {
      const data = [...this.refunds.values()].filter((r) => r.charge === url.searchParams.get('charge')).reverse();
      return [200, list(data, path)];
    }
    return [404, stripeError('invalid_request_error', `Unrecognized request URL (${method}: ${path}).`)];
  }

  private createSession(body: Params): StripeObject {
    const items = (body.line_items ?? []) as Params[];
    const amountTotal = items.reduce((sum, item) => sum + Number((item.price_data as Params).unit_amount) * Number(item.quantity ?? 1), 0);
    const sessionId = id('cs_test');
    const session: StripeObject = {
      id: sessionId,
      object: 'checkout.session',
      mode: body.mode,
      status: 'open',
      payment_status: 'unpaid',
      payment_intent: null,
      customer: body.customer ?? null,
      client_reference_id: body.client_reference_id ?? null,
      metadata: body.metadata ?? {},
      amount_total: amountTotal,
      currency: (items[0]?.price_data as Params | undefined)?.currency ?? 'usd',
      success_url: body.success_url,
      cancel_url: body.cancel_url,
      url: this.hostedPages ? `${this.url}/c/pay/${sessionId}` : `https://checkout.stripe.com/c/pay/${sessionId}`,
      payment_intent_data: body.payment_intent_data, // kept to build the PaymentIntent; Stripe does not echo it
      created: now(),
    };
    this.sessions.set(sessionId, session);
    const { payment_intent_data: _hidden, ...shown } = session;
    return shown as StripeObject;
  }

  // The hosted Checkout page a browser is sent to (hostedPages): GET shows it, POST pays.
  private paymentPage(method: string, sessionId: string, res: ServerResponse): void {
    const session = this.sessions.get(sessionId);
    if (!session) return send(res, 404, stripeError('invalid_request_error', `No such checkout.session: ${sessionId}`));
    if (method === 'POST') {
      this.paidSessions.push(this.completeSession(sessionId, 'paid'));
      const success = String(session.success_url).replace('{CHECKOUT_SESSION_ID}', sessionId);
      res.writeHead(303, { location: success }).end();
      return;
    }
    const amount = `${(Number(session.amount_total) / 100).toFixed(2)} ${String(session.currency).toUpperCase()}`;
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<!doctype html><html lang="en"><head><title>Fake Checkout</title></head><body><h1>Fake Stripe Checkout</h1><p>Pay ${amount}</p><form method="post"><button type="submit">Pay</button></form><p><a href="${String(session.cancel_url)}">Cancel</a></p></body></html>`);
  }

  private offSessionIntent(body: Params): [number, unknown] {
    const outcome = this.intentOutcomes.shift() ?? 'succeeded';
    if (outcome === 'server_error') return [500, stripeError('api_error', 'An unknown error occurred.')];
    const intent = this.createIntent({ amount: Number(body.amount), currency: String(body.currency), customer: String(body.customer), metadata: (body.metadata as Params) ?? {} }, outcome === 'processing' ? 'processing' : 'succeeded');
    Object.assign(intent, { payment_method: body.payment_method, off_session: body.off_session === 'true' });
    if (typeof outcome === 'object') {
      const message = outcome.error === 'authentication_required' ? 'Your card was declined. This transaction requires authentication.' : 'Your card was declined.';
      const lastError = { type: 'card_error', code: outcome.error, decline_code: outcome.error === 'card_declined' ? (outcome.declineCode ?? 'generic_decline') : 'authentication_required', message };
      Object.assign(intent, { status: 'requires_payment_method', amount_received: 0, last_payment_error: lastError });
      this.charges.delete(intent.latest_charge as string);
      return [402, { error: { ...lastError, payment_intent: structuredClone(intent), request_log_url: 'https://dashboard.stripe.com/test/logs' } }];
    }
    return [200, structuredClone(intent)];
  }

  private createIntent(input: { amount: number; currency: string; customer: string; metadata: Params }, status: 'succeeded' | 'processing'): StripeObject {
    const intent: StripeObject = {
      id: id('pi'),
      object: 'payment_intent',
      amount: input.amount,
      amount_received: status === 'succeeded' ? input.amount : 0,
      currency: input.currency,
      customer: input.customer,
      metadata: input.metadata,
      status,
      last_payment_error: null,
      created: now(),
    };
    const charge: StripeObject = {
      id: id('ch'),
      object: 'charge',
      amount: input.amount,
      amount_captured: input.amount,
      amount_refunded: 0,
      currency: input.currency,
      customer: input.customer,
      payment_intent: intent.id,
      paid: true,
      captured: true,
      refunded: false,
      disputed: false,
      status: 'succeeded',
      metadata: {},
      created: now(),
    };
    intent.latest_charge = charge.id;
    this.intents.set(intent.id, intent);
    this.charges.set(charge.id, charge);
    return intent;
  }

  private chargeOf(paymentIntentId: string): StripeObject {
    const charge = [...this.charges.values()].find((c) => c.payment_intent === paymentIntentId);
    if (!charge) throw new Error(`fake Stripe has no charge for ${paymentIntentId}`);
    return charge;
  }

  private must(map: Map<string, StripeObject>, key: string): StripeObject {
    const value = map.get(key);
    if (!value) throw new Error(`fake Stripe has no ${key}`);
    return value;
  }
}

export async function startFakeStripe(): Promise<FakeStripe> {
  return new FakeStripe().start();
}

/** Posts an event to the gateway's webhook, signed as Stripe signs it (or as the test tampers with it). */
export async function deliver(
  gatewayUrl: string,
  event: Stripe.Event | string,
  options: { secret?: string; timestamp?: number; signature?: string | null; body?: string } = {},
): Promise<{ status: number; body: { received?: boolean; outcome?: string; error?: { code: string } } }> {
  const payload = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
  const signature =
    options.signature === undefined
      ? Stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? WEBHOOK_SECRET, timestamp: options.timestamp })
      : options.signature;
  const response = await fetch(`${gatewayUrl}/stripe/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature !== null && { 'stripe-signature': signature }) },
    body: options.body ?? payload,
  });
  return { status: response.status, body: (await response.json()) as { received?: boolean; outcome?: string; error?: { code: string } } };
}

/** Environment for a gateway that uses this fake. */
export function stripeEnv(fake: FakeStripe): Record<string, string> {
  return { STRIPE_SECRET_KEY: FAKE_STRIPE_KEY, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: fake.url, PUBLIC_URL: 'https://gateway.example.com' };
}

/** `a[b][0][c]=v` form encoding (what the stripe package sends) into nested objects and arrays. */
export function parseForm(raw: string): Params {
  const root: Params = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const parts = key.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = value;
        return;
      }
      const nextIsIndex = /^\d+$/.test(parts[i + 1]!);
      node[part] ??= nextIsIndex ? [] : {};
      node = node[part] as Record<string, unknown>;
    });
  }
  return root;
}

function list(data: unknown[], url: string) {
  return { object: 'list', data, has_more: false, url };
}

function stripeError(type: string, message: string) {
  return { error: { type, message } };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
  res.end(JSON.stringify(body));
}

const now = () => Math.floor(Date.now() / 1000);
