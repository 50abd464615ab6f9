// GET /dashboard/admin: system totals, and usage by model and by operation over a chosen range.
import { Hono } from 'hono';
import { revenueByCurrency } from '../../stripe/revenue.js';
import { UsageChart, daysBetween } from '../chart.js';
import { StatCard } from '../components.js';
import { money, tokens } from '../format.js';
import { dayRange } from '../range.js';
import { render } from '../render.js';
import { allow, type UiEnv } from '../session.js';
import { tokenTotals } from '../stats-queries.js';
import { totalsOf, usageByDay } from '../usage-queries.js';
import { TotalsTable } from './usage.js';

export const adminOverviewPage = new Hono<UiEnv>();

adminOverviewPage.get('/', allow('staff'), async (c) => {
  const db = c.get('deps').db;
  const range = dayRange(c.req.query());
  const scope = { accountId: null, from: range.from, to: range.to };
  const [totals, revenue, byDay] = await Promise.all([tokenTotals(db), revenueByCurrency(db), usageByDay(db, scope)]);
  const { model: byModelDay, operation: byOperationDay } = byDay;
  const models = totalsOf(byModelDay);
  const operations = totalsOf(byOperationDay);
  const days = daysBetween(range.from, range.to);
  return render(
    c,
    'System',
    <>
      <section class="cards" aria-label="Totals">
        <StatCard id="sold" label="Tokens sold" value={tokens(totals.sold)} sub="purchases and auto-recharges" />
        <StatCard id="granted" label="Tokens granted" value={tokens(totals.granted)} sub="grants less deductions" />
        <StatCard id="used" label="Tokens used" value={tokens(totals.used)} sub="billed requests" />
        <StatCard id="outstanding" label="Outstanding" value={tokens(totals.outstanding)} sub={`held by ${tokens(totals.accounts)} accounts`} />
        {revenue.length === 0 ? (
          <StatCard id="revenue" label="Revenue" value={money(0, 'usd')} sub="no payments yet" />
        ) : (
          revenue.map((r) => <StatCard id={`revenue-${r.currency}`} label={`Revenue (${r.currency.toUpperCase()})`} value={money(r.netCents, r.currency)} sub={`${tokens(r.payments)} payments, gross ${money(r.grossCents, r.currency)}`} />)
        )}
      </section>
      <form method="get" action="/dashboard/admin" class="filters">
        <label>From<input type="date" name="from" value={range.fromText} /></label>
        <label>To<input type="date" name="to" value={range.toText} /></label>
        <button type="submit" class="secondary">Apply</button>
      </form>
      <div class="row">
        <section>
          <h2>Tokens per day by model</h2>
          <UsageChart buckets={byModelDay} days={days} label={`Provider tokens per day by model, ${range.fromText} to ${range.toText}`} />
          <TotalsTable rows={models} group="model" />
        </section>
        <section>
          <h2>Tokens per day by operation</h2>
          <UsageChart buckets={byOperationDay} days={days} label={`Provider tokens per day by operation, ${range.fromText} to ${range.toText}`} />
          <TotalsTable rows={operations} group="operation" />
        </section>
      </div>
    </>,
  );
});
