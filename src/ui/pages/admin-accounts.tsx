// Admin: the accounts list (search, filters, paging) and one account's page (ledger, usage, keys,
// status, grant/deduct with a confirmation step). Auditors see the same pages without write controls.
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { accountView } from '../../accounts/accounts.js';
import { ledgerPage } from '../../billing/ledger-history.js';
import { apiKeys } from '../../db/schema.js';
import { ApiError } from '../../http/errors.js';
import { listAccounts, postGrant, requireAccount, setAccountStatus } from '../../routes/admin/accounts.js';
import { grantSchema, listAccountsSchema } from '../../routes/admin/schemas.js';
import { Field, Pager, StatCard, Table } from '../components.js';
import { dateTime, signedTokens, tokens } from '../format.js';
import { fieldErrors, type FieldErrors } from '../form-errors.js';
import { Csrf } from '../layout.js';
import { render, viewer } from '../render.js';
import { allow, formFields, role, type UiContext, type UiEnv } from '../session.js';
import { decodeUsageCursor, usagePage } from '../usage-queries.js';
import { KeysTable } from './keys.js';
import { ledgerQuery, TransactionsTable, TypeFilter } from './transactions.js';
import { UsageRowsTable } from './usage.js';

export const adminAccountsPage = new Hono<UiEnv>();

adminAccountsPage.use('*', allow('staff'));

adminAccountsPage.get('/', async (c) => {
  const { db, settings } = c.get('deps');
  const raw = c.req.query();
  const parsed = listAccountsSchema.safeParse({ ...raw, limit: 25, status: raw.status || undefined, lowBalance: raw.lowBalance === 'true' ? 'true' : undefined, q: raw.q?.trim() || undefined });
  const query = parsed.success ? parsed.data : listAccountsSchema.parse({ limit: 25 });
  const { rows, nextCursor } = await listAccounts(db, query, (await settings.get()).lowBalanceThreshold);
  return render(
    c,
    'Accounts',
    <>
      <form method="get" action="/dashboard/admin/accounts" class="filters" role="search">
        <label>Search<input type="search" name="q" value={query.q ?? ''} placeholder="name, email or id" /></label>
        <label>
          Status
          <select name="status">
            <option value="">Any status</option>
            <option value="active" selected={query.status === 'active'}>Active</option>
            <option value="suspended" selected={query.status === 'suspended'}>Suspended</option>
          </select>
        </label>
        <label class="check"><input type="checkbox" name="lowBalance" value="true" checked={query.lowBalance === 'true'} /> Low balance only</label>
        <button type="submit" class="secondary">Search</button>
      </form>
      <Table
        rows={rows}
        caption="Accounts"
        empty="No accounts match."
        columns={[
          { label: 'Name', cell: (a) => <a href={`/dashboard/admin/accounts/${a.id}`}>{a.name}</a> },
          { label: 'Email', cell: (a) => a.email ?? '' },
          { label: 'Status', cell: (a) => a.status },
          { label: 'Balance', num: true, cell: (a) => tokens(a.balance) },
          { label: 'Created', cell: (a) => dateTime(a.createdAt) },
          { label: 'Id', cell: (a) => <code>{a.id}</code> },
        ]}
      />
      <Pager path="/dashboard/admin/accounts" query={{ q: query.q, status: query.status, lowBalance: query.lowBalance, cursor: query.cursor }} nextCursor={nextCursor} />
    </>,
  );
});

interface GrantForm {
  values: Record<string, string>;
  errors: FieldErrors;
}

async function accountPage(c: UiContext, grant: GrantForm = { values: {}, errors: {} }, status: 200 | 400 | 409 = 200) {
  const { db, holds, settings } = c.get('deps');
  const account = await requireAccount(db, c.req.param('id') ?? '');
  const ledgerQ = ledgerQuery(c.req.query());
  const [defaults, keys, ledger, usage] = await Promise.all([
    settings.get(),
    db.select().from(apiKeys).where(eq(apiKeys.accountId, account.id)).orderBy(asc(apiKeys.createdAt)),
    ledgerPage(db, account.id, ledgerQ),
    usagePage(db, account.id, { limit: 25, cursor: decodeUsageCursor(c.req.query('usageCursor')) }),
  ]);
  const view = await accountView(account, holds, defaults.lowBalanceThreshold);
  const canWrite = role(c) === 'admin';
  const base = `/dashboard/admin/accounts/${account.id}`;
  const { csrf } = viewer(c);
  return render(
    c,
    account.name,
    <>
      <p class="muted">
        <code>{account.id}</code>
        {account.email && ` · ${account.email}`}
        {` · created ${dateTime(account.createdAt)}`}
      </p>
      <section class="cards" aria-label="Balance">
        <StatCard id="balance" label="Balance" value={tokens(view.balance)} />
        <StatCard id="held" label="Held" value={tokens(view.held)} />
        <StatCard id="available" label="Available" value={tokens(view.available)} />
        <StatCard id="status" label="Status" value={view.status} sub={view.autoRecharge.enabled ? 'auto-recharge on' : 'auto-recharge off'} />
      </section>
      {canWrite && (
        <div class="row">
          <section>
            <h2>Grant or deduct tokens</h2>
            <form method="post" action={`${base}/grant/confirm`} class="stack">
              <Csrf token={csrf} />
              <Field label="Amount (tokens; negative deducts)" error={grant.errors.amount}>
                <input name="amount" type="number" required value={grant.values.amount ?? ''} />
              </Field>
              <Field label="Reason" error={grant.errors.reason}>
                <input name="reason" required maxlength={500} value={grant.values.reason ?? ''} />
              </Field>
              <label class="check"><input type="checkbox" name="allowNegative" checked={grant.values.allowNegative === 'on'} /> Allow the balance to go below zero</label>
              {grant.errors.form && <p class="field-error" role="alert">{grant.errors.form}</p>}
              <button type="submit">Review</button>
            </form>
          </section>
          <section>
            <h2>Status</h2>
            <form method="post" action={`${base}/status`} class="stack" data-once>
              <Csrf token={csrf} />
              <input type="hidden" name="status" value={account.status === 'active' ? 'suspended' : 'active'} />
              <p class="muted">{account.status === 'active' ? 'Suspending refuses every key of this account (and ends its dashboard sessions) until it is reactivated.' : 'This account is suspended.'}</p>
              <button type="submit" class={account.status === 'active' ? 'danger' : undefined}>{account.status === 'active' ? 'Suspend account' : 'Reactivate account'}</button>
            </form>
          </section>
        </div>
      )}
      <h2>Keys</h2>
      <KeysTable rows={keys} />
      <h2>Ledger</h2>
      <TypeFilter path={base} selected={ledgerQ.type} />
      <TransactionsTable rows={ledger.rows} />
      <Pager path={base} query={{ type: ledgerQ.type, cursor: c.req.query('cursor') }} nextCursor={ledger.nextCursor} />
      <h2>Usage</h2>
      <UsageRowsTable rows={usage.rows} />
      <Pager path={base} query={{ usageCursor: c.req.query('usageCursor') }} nextCursor={usage.nextCursor} cursorName="usageCursor" />
    </>,
    { status, notice: Object.keys(grant.errors).length > 0 ? { kind: 'error', text: 'Nothing was granted; see the form.' } : null },
  );
}

adminAccountsPage.get('/:id', (c) => accountPage(c));

const integerText = (text: string | undefined) => (text !== undefined && /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text);

function grantInput(form: Record<string, string>) {
  return grantSchema.safeParse({ amount: integerText(form.amount), reason: form.reason ?? '', idempotencyKey: form.idempotencyKey ?? randomUUID(), allowNegative: form.allowNegative === 'on' });
}

// Step 1: check the values and show what will happen. The confirmation form carries an idempotency
// key made here, so submitting it twice (a double click, a resent form) grants once.
adminAccountsPage.post('/:id/grant/confirm', allow('admin-write'), async (c) => {
  const form = await formFields(c);
  const parsed = grantInput(form);
  if (!parsed.success) return accountPage(c, { values: form, errors: fieldErrors(parsed.error) }, 400);
  const account = await requireAccount(c.get('deps').db, c.req.param('id'));
  const input = parsed.data;
  const base = `/dashboard/admin/accounts/${account.id}`;
  return render(
    c,
    'Confirm',
    <form method="post" action={`${base}/grant`} class="stack" data-once>
      <Csrf token={viewer(c).csrf} />
      <input type="hidden" name="amount" value={String(input.amount)} />
      <input type="hidden" name="reason" value={input.reason} />
      <input type="hidden" name="idempotencyKey" value={randomUUID()} />
      {input.allowNegative && <input type="hidden" name="allowNegative" value="on" />}
      <p id="confirm-text">{`${input.amount > 0 ? 'Grant' : 'Deduct'} ${tokens(Math.abs(input.amount))} tokens ${input.amount > 0 ? 'to' : 'from'} ${account.name} (balance ${tokens(account.balance)} now, ${tokens(account.balance + input.amount)} after). Reason: ${input.reason}`}</p>
      <div class="row">
        <button type="submit">{input.amount > 0 ? 'Confirm grant' : 'Confirm deduction'}</button>
        <a class="button secondary" href={base}>Cancel</a>
      </div>
    </form>,
  );
});

// Step 2: the posting. The same idempotency key again returns the first posting (nothing changes).
adminAccountsPage.post('/:id/grant', allow('admin-write'), async (c) => {
  const form = await formFields(c);
  const parsed = grantInput({ ...form, idempotencyKey: form.idempotencyKey ?? '' });
  if (!parsed.success) return accountPage(c, { values: form, errors: fieldErrors(parsed.error) }, 400);
  const account = await requireAccount(c.get('deps').db, c.req.param('id'));
  try {
    const { entry, replayed } = await postGrant(c.get('deps'), account.id, parsed.data, c.get('auth').key.id);
    const done = replayed ? 'replayed' : entry.amount > 0 ? 'granted' : 'deducted';
    return c.redirect(`/dashboard/admin/accounts/${account.id}?done=${done}`, 303);
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) return accountPage(c, { values: form, errors: { form: error.message } }, error.status === 409 ? 409 : 400);
    throw error;
  }
});

adminAccountsPage.post('/:id/status', allow('admin-write'), async (c) => {
  const { status } = await formFields(c);
  if (status !== 'active' && status !== 'suspended') return accountPage(c, { values: {}, errors: { form: "Status must be 'active' or 'suspended'." } }, 400);
  const account = await requireAccount(c.get('deps').db, c.req.param('id'));
  await setAccountStatus(c.get('deps'), account.id, status);
  return c.redirect(`/dashboard/admin/accounts/${account.id}?done=${status === 'active' ? 'activated' : 'suspended'}`, 303);
});
