// Checkout: a Stripe Checkout Session (payment mode) for one package, paid by the account's customer.
// Nothing is credited here: the tokens come with the checkout.session webhooks (purchases.ts).
import { and, eq, isNull } from 'drizzle-orm';
import type { AccountRow } from '../accounts/accounts.js';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';
import type { StripeClient } from './client.js';
import { META } from './events.js';
import type { PackageRow } from './packages.js';

export interface CheckoutSession {
  id: string;
  url: string;
}

/** The account's Stripe customer: created once (the idempotency key covers two first checkouts at once). */
export async function ensureCustomer(db: Db, stripe: StripeClient, account: AccountRow): Promise<string> {
  if (account.stripeCustomerId) return account.stripeCustomerId;
  const customer = await stripe.customers.create(
    { name: account.name, ...(account.email && { email: account.email }), metadata: { [META.account]: account.id } },
    { idempotencyKey: `tokengate-customer-${account.id}` },
  );
  const [stored] = await db
    .update(accounts)
    .set({ stripeCustomerId: customer.id })
    .where(and(eq(accounts.id, account.id), isNull(accounts.stripeCustomerId)))
    .returning({ customerId: accounts.stripeCustomerId });
  if (stored?.customerId) return stored.customerId;
  const [current] = await db.select({ customerId: accounts.stripeCustomerId }).from(accounts).where(eq(accounts.id, account.id));
  return current?.customerId ?? customer.id;
}

/** Where Checkout sends the buyer back, as paths under PUBLIC_URL (the dashboard has its own pages). */
export interface CheckoutReturn {
  successPath: string; // may hold {CHECKOUT_SESSION_ID}
  cancelPath: string;
}

const API_RETURN: CheckoutReturn = { successPath: '/checkout/success?session_id={CHECKOUT_SESSION_ID}', cancelPath: '/checkout/cancel' };

export async function createCheckoutSession(
  db: Db,
  stripe: StripeClient,
  publicUrl: string,
  account: AccountRow,
  pkg: PackageRow,
  returnTo: CheckoutReturn = API_RETURN,
): Promise<CheckoutSession> {
  const customer = await ensureCustomer(db, stripe, account);
  const base = publicUrl.replace(/\/+$/, '');
  // The same metadata on the session and its PaymentIntent: refunds and disputes name the PaymentIntent.
  const metadata = {
    [META.kind]: 'checkout',
    [META.account]: account.id,
    [META.package]: pkg.id,
    [META.tokens]: String(pkg.tokens),
  };
  const session = await stripe.checkout.sessions.create({
    mode: 'payment',
    customer,
    client_reference_id: account.id,
    line_items: [
      {
        quantity: 1,
        price_data: {
          currency: pkg.currency,
          unit_amount: pkg.priceCents,
          product_data: { name: pkg.name, description: `${pkg.tokens.toLocaleString('en-US')} tokens` },
        },
      },
    ],
    metadata,
    payment_intent_data: {
      metadata,
      // The card is kept for off-session charges only when the account opted in to auto-recharge.
      ...(account.autoRechargeEnabled && { setup_future_usage: 'off_session' as const }),
    },
    success_url: `${base}${returnTo.successPath}`,
    cancel_url: `${base}${returnTo.cancelPath}`,
  });
  if (!session.url) throw new Error(`Stripe returned Checkout Session ${session.id} without a url`);
  return { id: session.id, url: session.url };
}
