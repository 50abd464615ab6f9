// Gateway-wide statistics for admins and auditors (SPEC 4: GET /admin/stats/tokens, /models,
// /operations): pure functions of (db, params), shared by the routes and the dashboard.
import { sql, type SQL } from 'drizzle-orm';
import { resultRows, type Db } from '../db/client.js';
import { accounts, ledgerEntries, usageEvents } from '../db/schema.js';
import { revenueByCurrency, type CurrencyRevenue } from '../stripe/revenue.js';
import { inRange, int, type TimeRange } from './range.js';

/**
 * Token flows from the ledger (billing tokens). Over the whole history they add up:
 * outstanding = sold - reversed + granted - deducted + adjusted - used (the ledger invariant).
 */
export interface TokenStats {
  range: { from: string | null; to: string | null };
  /** Credited by paid Stripe purchases and auto-recharges (gross, before refunds and disputes). */
  sold: number;
  /** Taken back by refunds and disputes, net of won disputes (type refund + dispute + dispute_won, negated). */
  reversed: number;
  /** Credited by admin grants (opening grants included). */
  granted: number;
  /** Taken by admin deductions (a positive number). */
  deducted: number;
  /** Corrections (type adjustment, e.g. a refund that failed gives its tokens back); signed. */
  adjusted: number;
  /** Charged for usage (ledger type usage, a positive number). */
  used: number;
  /** Sum of all balances now: tokens sold or granted and not yet used (ignores the range). */
  outstanding: number;
  /** Accounts now (ignores the range); `withUsage` counts accounts with a request in the range. */
  accounts: { total: number; active: number; suspended: number; withUsage: number };
  /** Money from Stripe payments in the range, per currency, in its smallest unit. */
  revenue: CurrencyRevenue[];
}

export async function tokenStats(db: Db, range: TimeRange = {}): Promise<TokenStats> {
  const flowsWhere = inRange(ledgerEntries.createdAt, range);
  const usageWhere = inRange(sql`${usageEvents}.created_at`, range);
  const [flowRows, accountRows, usageRows, revenue] = await Promise.all([
    db.execute(sql`select
        coalesce(sum(amount) filter (where type in ('purchase', 'auto_recharge')), 0) as sold,
        coalesce(-sum(amount) filter (where type in ('refund', 'dispute', 'dispute_won')), 0) as reversed,
        coalesce(sum(amount) filter (where type = 'grant'), 0) as granted,
        coalesce(-sum(amount) filter (where type = 'deduction'), 0) as deducted,
        coalesce(sum(amount) filter (where type = 'adjustment'), 0) as adjusted,
        coalesce(-sum(amount) filter (where type = 'usage'), 0) as used
      from ${ledgerEntries} ${flowsWhere ? sql`where ${flowsWhere}` : sql``}`),
    db.execute(sql`select count(*) as total,
        count(*) filter (where status = 'active') as active,
        count(*) filter (where status = 'suspended') as suspended,
        coalesce(sum(balance), 0) as outstanding
      from ${accounts}`),
    // One index probe per account ((account_id, created_at, id)) instead of a distinct over every usage row.
    db.execute(sql`select count(*) as with_usage from ${accounts} a
      where exists (select 1 from ${usageEvents} where ${usageEvents.accountId} = a.id ${usageWhere ? sql`and ${usageWhere}` : sql``})`),
    revenueByCurrency(db, range),
  ]);
  const flows = resultRows<Record<string, string | number>>(flowRows)[0]!;
  const counts = resultRows<Record<string, string | number>>(accountRows)[0]!;
  const usage = resultRows<Record<string, string | number>>(usageRows)[0]!;
  return {
    range: { from: range.from?.toISOString() ?? null, to: range.to?.toISOString() ?? null },
    sold: int(flows.sold),
    reversed: int(flows.reversed),
    granted: int(flows.granted),
    deducted: int(flows.deducted),
    adjusted: int(flows.adjusted),
    used: int(flows.used),
    outstanding: int(counts.outstanding),
    accounts: { total: int(counts.total), active: int(counts.active), suspended: int(counts.suspended), withUsage: int(usage.with_usage) },
    revenue,
  };
}

/** Traffic of one model or operation over a range (provider tokens, billing tokens, outcomes, latency). */
export interface TrafficStats {
  /** The model id, or the operation (null: requests sent without one). */
  group: string | null;
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  images: number;
  /** Billing tokens charged (sum of usage_events.cost). */
  tokensCharged: number;
  /** Requests that ended with status 'error' (provider error, broken stream). */
  errors: number;
  /** errors / requests, 0..1, rounded to 4 decimals. */
  errorRate: number;
  /** Requests whose client left (status client_aborted) or that shutdown cut (interrupted). */
  clientAborted: number;
  interrupted: number;
  /** Latency in ms from request start to settlement (percentile_cont, interpolated; 1 decimal). */
  latencyP50Ms: number;
  latencyP95Ms: number;
}

export interface TrafficReport {
  range: { from: string | null; to: string | null };
  data: TrafficStats[];
}

type TrafficRow = Record<'group' | 'requests' | 'input' | 'cached' | 'output' | 'reasoning' | 'images' | 'cost' | 'errors' | 'aborted' | 'interrupted' | 'p50' | 'p95', string | number | null>;

async function traffic(db: Db, group: SQL, range: TimeRange): Promise<TrafficReport> {
  const where = inRange(usageEvents.createdAt, range);
  const rows = resultRows<TrafficRow>(
    await db.execute(sql`select ${group} as "group", count(*) as requests,
        sum(${usageEvents.inputTokens}) as input, sum(${usageEvents.cachedInputTokens}) as cached,
        sum(${usageEvents.outputTokens}) as output, sum(${usageEvents.reasoningTokens}) as reasoning,
        sum(${usageEvents.images}) as images, sum(${usageEvents.cost}) as cost,
        count(*) filter (where status = 'error') as errors,
        count(*) filter (where status = 'client_aborted') as aborted,
        count(*) filter (where status = 'interrupted') as interrupted,
        percentile_cont(0.5) within group (order by ${usageEvents.latencyMs}) as p50,
        percentile_cont(0.95) within group (order by ${usageEvents.latencyMs}) as p95
      from ${usageEvents} ${where ? sql`where ${where}` : sql``}
      group by 1 order by requests desc, 1 asc nulls last`),
  );
  return {
    range: { from: range.from?.toISOString() ?? null, to: range.to?.toISOString() ?? null },
    data: rows.map((row) => {
      const requests = int(row.requests);
      const errors = int(row.errors);
      return {
        group: row.group === null ? null : String(row.group),
        requests,
        inputTokens: int(row.input),
        cachedInputTokens: int(row.cached),
        outputTokens: int(row.output),
        reasoningTokens: int(row.reasoning),
        images: int(row.images),
        tokensCharged: int(row.cost),
        errors,
        errorRate: requests === 0 ? 0 : Math.round((errors / requests) * 10_000) / 10_000,
        clientAborted: int(row.aborted),
        interrupted: int(row.interrupted),
        latencyP50Ms: Math.round(Number(row.p50) * 10) / 10,
        latencyP95Ms: Math.round(Number(row.p95) * 10) / 10,
      };
    }),
  };
}

/** Per model, busiest first. */
export const modelStats = (db: Db, range: TimeRange = {}): Promise<TrafficReport> => traffic(db, sql`${usageEvents.model}`, range);

/** Per operation (x-tokengate-operation, or the route's default), busiest first. */
export const operationStats = (db: Db, range: TimeRange = {}): Promise<TrafficReport> => traffic(db, sql`${usageEvents.operation}`, range);
