// GET /dashboard: the account's balance card, a low-balance banner, and its latest ledger rows.
import { and, desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { accountView, findAccount } from '../../accounts/accounts.js';
import { latestAlert } from '../../alerts/alerts.js';
import { ledgerEntries } from '../../db/schema.js';
import { notFound } from '../../http/errors.js';
import { StatCard } from '../components.js';
import { tokens } from '../format.js';
import { render } from '../render.js';
import { allow, role, type UiEnv } from '../session.js';
import { TransactionsTable } from './transactions.js';

export const overviewPage = new Hono<UiEnv>();

overviewPage.get('/', async (c, next) => {
  // Auditors have no account pages: their start page is the system overview.
  if (role(c) === 'auditor') return c.redirect('/dashboard/admin', 303);
  return next();
});

overviewPage.get('/', allow('account'), async (c) => {
  const { db, holds, settings } = c.get('deps');
  const accountId = c.get('auth').accountId;
  const [row, defaults, alert, recent] = await Promise.all([
    findAccount(db, accountId),
    settings.get(),
    latestAlert(db, accountId),
    db.select().from(ledgerEntries).where(and(eq(ledgerEntries.accountId, accountId))).orderBy(desc(ledgerEntries.id)).limit(5),
  ]);
  if (!row) throw notFound('Account not found.');
  const view = await accountView(row, holds, defaults.lowBalanceThreshold);
  const low = view.available < view.lowBalanceThreshold;
  return render(
    c,
    view.name,
    <>
      {low && (
        <div class="banner warn" role="status" id="low-balance">
          {`Low balance: ${tokens(view.available)} tokens available, below your threshold of ${tokens(view.lowBalanceThreshold)}. `}
          <a href="/dashboard/buy">Buy tokens</a>
          {' or '}
          <a href="/dashboard/auto-recharge">turn on auto-recharge</a>.
          {alert && <span class="muted">{` Alert recorded ${alert.createdAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`}</span>}
        </div>
      )}
      {view.status !== 'active' && <div class="banner error" role="alert">This account is suspended: its keys are refused until an admin reactivates it.</div>}
      <section class="cards" aria-label="Balance">
        <StatCard id="balance" label="Balance" value={tokens(view.balance)} sub="tokens" />
        <StatCard id="held" label="Held" value={tokens(view.held)} sub="reserved by requests in flight" />
        <StatCard id="available" label="Available" value={tokens(view.available)} sub={`low-balance threshold ${tokens(view.lowBalanceThreshold)}`} />
        <StatCard label="Auto-recharge" value={view.autoRecharge.enabled ? 'On' : 'Off'} sub={view.autoRecharge.lastFailure ? `last failure: ${view.autoRecharge.lastFailure.message}` : undefined} />
      </section>
      <h2>Latest transactions</h2>
      <TransactionsTable rows={recent} />
      <p>
        <a href="/dashboard/transactions">All transactions</a> · <a href="/dashboard/usage">Usage</a>
      </p>
    </>,
  );
});
