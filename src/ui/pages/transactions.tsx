// GET /dashboard/transactions: the account's ledger with a type filter and paging.
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import { ledgerPage } from '../../billing/ledger-history.js';
import type { LedgerEntry } from '../../billing/ledger.js';
import { ledgerTypes, type LedgerType } from '../../db/schema.js';
import { Pager, Table } from '../components.js';
import { dateTime, signedTokens, tokens } from '../format.js';
import { render } from '../render.js';
import { allow, type UiEnv } from '../session.js';

export const transactionsPage = new Hono<UiEnv>();

const TYPE_LABELS: Record<LedgerType, string> = {
  purchase: 'Purchase',
  grant: 'Grant',
  deduction: 'Deduction',
  usage: 'Usage',
  refund: 'Refund',
  dispute: 'Dispute',
  dispute_won: 'Dispute won',
  auto_recharge: 'Auto-recharge',
  adjustment: 'Adjustment',
};

const reasonOf = (entry: LedgerEntry) => {
  const metadata = entry.metadata as Record<string, unknown> | null;
  return typeof metadata?.reason === 'string' ? metadata.reason : '';
};

export const TransactionsTable: FC<{ rows: LedgerEntry[] }> = ({ rows }) => (
  <Table
    rows={rows}
    caption="Transactions"
    empty="No transactions yet."
    columns={[
      { label: 'Date', cell: (r) => dateTime(r.createdAt) },
      { label: 'Type', cell: (r) => TYPE_LABELS[r.type] },
      { label: 'Amount', num: true, cell: (r) => <span class={r.amount < 0 ? 'neg' : 'pos'}>{signedTokens(r.amount)}</span> },
      { label: 'Balance after', num: true, cell: (r) => tokens(r.balanceAfter) },
      { label: 'Reference', cell: (r) => <code>{r.reference}</code> },
      { label: 'Note', cell: (r) => reasonOf(r) },
    ]}
  />
);

export const TypeFilter: FC<{ path: string; selected: string | undefined }> = ({ path, selected }) => (
  <form method="get" action={path} class="filters">
    <label>
      Type
      <select name="type">
        <option value="">All types</option>
        {ledgerTypes.map((t) => (
          <option value={t} selected={t === selected}>{TYPE_LABELS[t]}</option>
        ))}
      </select>
    </label>
    <button type="submit" class="secondary">Filter</button>
  </form>
);

export function ledgerQuery(query: { type?: string; cursor?: string }) {
  const type = (ledgerTypes as readonly string[]).includes(query.type ?? '') ? (query.type as LedgerType) : undefined;
  const cursor = query.cursor && /^\d{1,18}$/.test(query.cursor) ? Number(query.cursor) : undefined;
  return { type, cursor, limit: 25 };
}

transactionsPage.get('/', allow('account'), async (c) => {
  const query = ledgerQuery(c.req.query());
  const { rows, nextCursor } = await ledgerPage(c.get('deps').db, c.get('auth').accountId, query);
  return render(
    c,
    'Transactions',
    <>
      <TypeFilter path="/dashboard/transactions" selected={query.type} />
      <TransactionsTable rows={rows} />
      <Pager path="/dashboard/transactions" query={{ type: query.type, cursor: c.req.query('cursor') }} nextCursor={nextCursor} />
    </>,
  );
});
