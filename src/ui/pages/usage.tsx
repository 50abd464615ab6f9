// GET /dashboard/usage: tokens per day (split by model or operation) and the usage rows, filtered and paged.
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import { UsageChart, daysBetween } from '../chart.js';
import { Pager, Table } from '../components.js';
import { dateTime, tokens } from '../format.js';
import { dayRange, type DayRange } from '../range.js';
import { render } from '../render.js';
import { allow, type UiEnv } from '../session.js';
import { decodeUsageCursor, totalsOf, usageByDay, usagePage, type GroupTotal, type UsageGroup, type UsageRow } from '../usage-queries.js';

export const usagePageRoutes = new Hono<UiEnv>();

export const groupOf = (text: string | undefined): UsageGroup => (text === 'operation' ? 'operation' : 'model');

const clean = (text: string | undefined) => (text && text.length <= 200 ? text : undefined);

export const GroupTabs: FC<{ path: string; range: DayRange; group: UsageGroup; extra?: Record<string, string | undefined> }> = ({ path, range, group, extra = {} }) => {
  const link = (g: UsageGroup) => `${path}?${new URLSearchParams(Object.entries({ ...extra, from: range.fromText, to: range.toText, group: g }).filter((e): e is [string, string] => Boolean(e[1])))}`;
  return (
    <div class="tabs" role="group" aria-label="Split the chart by">
      <a href={link('model')} aria-current={group === 'model' ? 'true' : undefined}>By model</a>
      <a href={link('operation')} aria-current={group === 'operation' ? 'true' : undefined}>By operation</a>
    </div>
  );
};

export const TotalsTable: FC<{ rows: GroupTotal[]; group: UsageGroup }> = ({ rows, group }) => (
  <Table
    rows={rows}
    caption={`Usage by ${group}`}
    empty="No usage in this range."
    columns={[
      { label: group === 'model' ? 'Model' : 'Operation', cell: (r) => r.group },
      { label: 'Requests', num: true, cell: (r) => tokens(r.requests) },
      { label: 'Input tokens', num: true, cell: (r) => tokens(r.inputTokens) },
      { label: 'Output tokens', num: true, cell: (r) => tokens(r.outputTokens) },
      { label: 'Cost (billing tokens)', num: true, cell: (r) => tokens(r.cost) },
    ]}
  />
);

export const UsageRowsTable: FC<{ rows: UsageRow[] }> = ({ rows }) => (
  <Table
    rows={rows}
    caption="Requests"
    empty="No requests match these filters."
    columns={[
      { label: 'Date', cell: (r) => dateTime(r.createdAt) },
      { label: 'Model', cell: (r) => r.model },
      { label: 'Operation', cell: (r) => r.operation ?? '' },
      { label: 'Input', num: true, cell: (r) => tokens(r.inputTokens) },
      { label: 'Output', num: true, cell: (r) => tokens(r.outputTokens) },
      { label: 'Cost', num: true, cell: (r) => tokens(r.cost) },
      { label: 'Status', cell: (r) => r.status + (r.usageSource === 'estimated' ? ' (estimated)' : '') },
      { label: 'Request id', cell: (r) => <code>{r.id}</code> },
    ]}
  />
);

usagePageRoutes.get('/', allow('account'), async (c) => {
  const q = c.req.query();
  const range = dayRange(q);
  const group = groupOf(q.group);
  const model = clean(q.model);
  const operation = clean(q.operation);
  const accountId = c.get('auth').accountId;
  const db = c.get('deps').db;
  const scope = { accountId, from: range.from, to: range.to };
  const [byDay, page] = await Promise.all([
    usageByDay(db, scope),
    usagePage(db, accountId, { from: range.from, to: range.to, model, operation, cursor: decodeUsageCursor(q.cursor), limit: 25 }),
  ]);
  const buckets = byDay[group];
  const totals = totalsOf(buckets);
  return render(
    c,
    'Usage',
    <>
      <form method="get" action="/dashboard/usage" class="filters">
        <input type="hidden" name="group" value={group} />
        <label>From<input type="date" name="from" value={range.fromText} /></label>
        <label>To<input type="date" name="to" value={range.toText} /></label>
        <label>Model<input type="text" name="model" value={model ?? ''} /></label>
        <label>Operation<input type="text" name="operation" value={operation ?? ''} /></label>
        <button type="submit" class="secondary">Apply</button>
      </form>
      <h2>Tokens per day</h2>
      <GroupTabs path="/dashboard/usage" range={range} group={group} extra={{ model, operation }} />
      <UsageChart buckets={buckets} days={daysBetween(range.from, range.to)} label={`Provider tokens per day by ${group}, ${range.fromText} to ${range.toText}`} />
      <h2>{`By ${group}`}</h2>
      <TotalsTable rows={totals} group={group} />
      <h2>Requests</h2>
      <UsageRowsTable rows={page.rows} />
      <Pager path="/dashboard/usage" query={{ from: range.fromText, to: range.toText, group, model, operation, cursor: q.cursor }} nextCursor={page.nextCursor} />
    </>,
  );
});
