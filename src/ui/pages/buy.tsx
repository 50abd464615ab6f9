// Buy tokens: package cards -> Stripe Checkout; the return page shows the credit once the webhook is in.
import { and, eq, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { accountView, findAccount } from '../../accounts/accounts.js';
import { ledgerEntries } from '../../db/schema.js';
import { badRequest, notFound } from '../../http/errors.js';
import { createCheckoutSession } from '../../stripe/checkout.js';
import { activePackages, findActivePackage } from '../../stripe/packages.js';
import { fromStripeError, stripeNotConfigured } from '../../routes/stripe/errors.js';
import { StatCard } from '../components.js';
import { money, tokens } from '../format.js';
import { Csrf } from '../layout.js';
import { render, viewer } from '../render.js';
import { allow, formFields, type UiEnv } from '../session.js';

export const buyPage = new Hono<UiEnv>();

buyPage.use('*', allow('account'));

buyPage.get('/', async (c) => {
  const { db, stripe } = c.get('deps');
  const packages = await activePackages(db);
  const { csrf } = viewer(c);
  return render(
    c,
    'Buy tokens',
    <>
      {!stripe && <div class="banner warn" role="status">Payments are not configured on this gateway (STRIPE_SECRET_KEY is unset); ask an admin for a grant.</div>}
      <section class="packages" aria-label="Packages">
        {packages.map((pkg) => (
          <form method="post" action="/dashboard/buy" class="card" data-once>
            <Csrf token={csrf} />
            <input type="hidden" name="packageId" value={pkg.id} />
            <div class="label">{pkg.name}</div>
            <div class="value">{`${tokens(pkg.tokens)} tokens`}</div>
            <div class="sub">{money(pkg.priceCents, pkg.currency)}</div>
            <button type="submit" disabled={!stripe} aria-label={`Buy ${pkg.name}`}>Buy</button>
          </form>
        ))}
      </section>
      {packages.length === 0 && <p class="muted">No packages are on sale.</p>}
      <p class="muted">Payment happens on Stripe's page; the tokens are credited when Stripe confirms the payment, usually within seconds.</p>
    </>,
  );
});

buyPage.post('/', async (c) => {
  const { db, stripe, config } = c.get('deps');
  if (!stripe) throw stripeNotConfigured();
  const { packageId = '' } = await formFields(c);
  const pkg = await findActivePackage(db, packageId);
  if (!pkg) throw badRequest(`No active package '${packageId}'.`, 'packageId', 'package_not_found');
  const account = await findAccount(db, c.get('auth').accountId);
  if (!account) throw notFound('Account not found.');
  let url: string;
  try {
    ({ url } = await createCheckoutSession(db, stripe, config.PUBLIC_URL, account, pkg, {
      successPath: '/dashboard/buy/return?session_id={CHECKOUT_SESSION_ID}',
      cancelPath: '/dashboard/buy?done=canceled',
    }));
  } catch (error) {
    throw fromStripeError(error);
  }
  return c.redirect(url, 303);
});

buyPage.get('/return', async (c) => {
  const { db, holds, settings } = c.get('deps');
  const sessionId = c.req.query('session_id') ?? '';
  const accountId = c.get('auth').accountId;
  // Scoped to the signed-in account: another account's session id finds nothing.
  const [credit] = /^cs_[A-Za-z0-9_]{1,200}$/.test(sessionId)
    ? await db
        .select()
        .from(ledgerEntries)
        .where(and(eq(ledgerEntries.accountId, accountId), eq(ledgerEntries.type, 'purchase'), sql`${ledgerEntries.metadata}->>'checkoutSessionId' = ${sessionId}`))
        .limit(1)
    : [];
  const row = await findAccount(db, accountId);
  if (!row) throw notFound('Account not found.');
  const view = await accountView(row, holds, (await settings.get()).lowBalanceThreshold);
  const cards = (
    <section class="cards" aria-label="Balance">
      <StatCard id="balance" label="Balance" value={tokens(view.balance)} sub="tokens" />
      <StatCard id="available" label="Available" value={tokens(view.available)} />
    </section>
  );
  if (credit) {
    return render(
      c,
      'Payment received',
      <>
        <div class="banner ok" role="status" id="credited">{`${tokens(credit.amount)} tokens were credited to your account.`}</div>
        {cards}
        <p><a href="/dashboard/transactions">See the transaction</a></p>
      </>,
    );
  }
  // The webhook has not arrived yet: the page looks again every few seconds, without any script.
  return render(
    c,
    'Payment received',
    <>
      <div class="banner warn" role="status" id="waiting">Waiting for Stripe to confirm the payment; this page refreshes by itself.</div>
      {cards}
    </>,
    { refreshSeconds: 2 },
  );
});
