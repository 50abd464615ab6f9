// Moves settlements from the hold store's queue into Postgres, in batches, off the response path.
// A batch is one transaction (usage rows + ledger rows); only after it commits are the entries acked,
// so a Postgres outage just leaves them queued, and the unique references make redelivery harmless.
import { getTableColumns, getTableName, sql } from 'drizzle-orm';
import type { Database, Db } from '../db/client.js';
import { isConnectionError } from '../db/errors.js';
import { usageEvents } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { HoldStore, QueuedSettlement, Settlement } from './holds/types.js';
import { postUsageBatch, type UsageDebit } from './ledger.js';

export interface SettlerOptions {
  db: Db;
  holds: HoldStore;
  log: Logger;
  intervalMs: number;
  batchSize?: number;
  /** How often this instance sweeps expired holds (settled by progress or voided); every instance may. */
  sweepIntervalMs?: number;
  metrics?: GatewayMetrics;
}

export class Settler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  private failing = false;
  private lastSweepAt = 0;
  private readonly reported = new Set<string>(); // entries already logged as unwritable
  private readonly settledListeners: Array<(accountIds: string[]) => void> = [];

  constructor(private readonly options: SettlerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /**
   * Calls `listener` with the accounts of every batch committed to Postgres (after the commit), for
   * work that follows a debit: low-balance alerts, auto-recharge. A listener must not throw; it runs
   * off the settlement path and its own failures are its own to log.
   */
  onSettled(listener: (accountIds: string[]) => void): void {
    this.settledListeners.push(listener);
  }

  /** Settles one batch; returns how many settlements it wrote. Concurrent calls share one run. */
  flushOnce(): Promise<number> {
    this.running ??= this.settleBatch().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the loop and settles everything queued, until the queue is empty or the deadline passes. */
  async drain(deadlineMs = 10_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      try {
        if ((await this.flushOnce()) === 0) return;
      } catch (error) {
        // Waiting helps only when Postgres is briefly unreachable; an entry it refuses stays refused.
        if (!isConnectionError(error)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    this.options.log.warn('settlements still queued at shutdown; they stay in the queue and are settled at next start');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    await this.sweep();
    try {
      // Keep going while batches come back full, then wait for the next interval.
      while (!this.stopped && (await this.flushOnce()) >= (this.options.batchSize ?? 500));
      if (this.failing) this.options.log.info('settlement recovered: Postgres writes succeed again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.log.warn({ err: error }, 'settlement failed; usage stays queued and is retried');
      this.failing = true;
    }
    this.schedule();
  }

  /** Holds abandoned by a dead instance are settled by their progress here, then queued like captures. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweepAt < (this.options.sweepIntervalMs ?? 2_000)) return;
    this.lastSweepAt = now;
    try {
      const swept = await this.options.holds.sweepExpired();
      if (swept.settled > 0) this.options.log.info(swept, 'expired holds settled by their recorded progress');
    } catch (error) {
      this.options.log.warn({ err: error }, 'sweeping expired holds failed; retried at the next sweep');
    }
  }

  private async settleBatch(): Promise<number> {
    const queued = await this.options.holds.claimSettlements(this.options.batchSize ?? 500);
    if (queued.length === 0) return 0;
    try {
      await writeSettlements(this.options.db, queued.map((q) => q.settlement));
    } catch (error) {
      this.failed(error);
      if (queued.length === 1 || isConnectionError(error)) throw error;
      // One bad entry must not hold the whole queue back: settle one by one, keep what fails queued.
      return this.settleOneByOne(queued, error);
    }
    await this.options.holds.ackSettlements(queued);
    this.announce(queued);
    return queued.length;
  }

  private announce(written: QueuedSettlement[]): void {
    if (written.length === 0 || this.settledListeners.length === 0) return;
    const accountIds = [...new Set(written.map((entry) => entry.settlement.accountId))];
    for (const listener of this.settledListeners) {
      try {
        listener(accountIds);
      } catch (error) {
        this.options.log.error({ err: error }, 'a settlement listener failed');
      }
    }
  }

  /** A write Postgres did not commit: counted as a ledger write failure, and as a Postgres error when it could not be reached. */
  private failed(error: unknown): void {
    this.options.metrics?.ledgerWriteFailed();
    if (isConnectionError(error)) this.options.metrics?.postgresError();
  }

  private async settleOneByOne(queued: QueuedSettlement[], batchError: unknown): Promise<number> {
    const written: QueuedSettlement[] = [];
    let lastError = batchError;
    for (const entry of queued) {
      try {
        await writeSettlements(this.options.db, [entry.settlement]);
        written.push(entry);
      } catch (error) {
        lastError = error;
        this.failed(error);
        if (!this.reported.has(entry.id)) {
          this.reported.add(entry.id);
          this.options.log.error({ err: error, requestId: entry.settlement.requestId }, 'settlement could not be written; it stays queued');
        }
      }
    }
    await this.options.holds.ackSettlements(written);
    this.announce(written);
    if (written.length === 0) throw lastError; // nothing got through: Postgres itself is the problem
    return written.length;
  }
}

/** Which of these request ids Postgres has settled (their usage row is written with their ledger row). */
export async function committedRequestIds(database: Database, requestIds: string[]): Promise<Set<string>> {
  if (requestIds.length === 0) return new Set();
  const rows = await database.rows<{ id: string }>(
    sql`select id from usage_events where id = any(array(select jsonb_array_elements_text(${JSON.stringify(requestIds)}::jsonb)))`,
  );
  return new Set(rows.map((row) => row.id));
}

/** Writes usage rows and ledger rows for a batch in one transaction; replays change nothing. */
export async function writeSettlements(db: Db, settlements: Settlement[]): Promise<void> {
  // The usage rows travel as one jsonb parameter: one JSON.stringify instead of drizzle binding 18
  // parameters a row, and one SQL text whatever the batch size.
  const insertUsage = sql`${insertUsageHead}${JSON.stringify(settlements.map(toUsageRecord))}${insertUsageTail}`;
  const debits: UsageDebit[] = settlements.map((s) => ({
    accountId: s.accountId,
    reference: s.requestId,
    costTokens: s.costTokens,
    metadata: { model: s.model, operation: s.operation, usageSource: s.usageSource },
  }));
  await db.transaction((tx) => postUsageBatch(tx, debits, insertUsage));
}

/** One usage_events row as jsonb_to_recordset reads it: keys are the schema's property names. */
type UsageRecord = Required<Omit<typeof usageEvents.$inferInsert, 'createdAt'>> & { createdAt: string };

function toUsageRecord(s: Settlement): UsageRecord {
  return {
    id: s.requestId,
    accountId: s.accountId,
    keyId: s.keyId,
    model: s.model,
    provider: s.provider,
    operation: s.operation,
    inputTokens: s.inputTokens,
    cachedInputTokens: s.cachedInputTokens,
    outputTokens: s.outputTokens,
    reasoningTokens: s.reasoningTokens,
    images: s.images,
    toolCalls: s.toolCalls ?? null,
    cost: s.costTokens,
    rates: s.rates,
    usageSource: s.usageSource,
    status: s.status,
    latencyMs: s.latencyMs,
    stream: s.stream,
    createdAt: s.createdAt, // ISO text; the recordset reads it as timestamptz
  };
}

// Built once from schema.ts, so the column names and SQL types cannot drift from the table:
//   insert into "usage_events" ("id", "account_id", ...) select r."id", r."accountId", ...
//   from jsonb_to_recordset($1::jsonb) as r("id" text, "accountId" text, ..., "createdAt" timestamp with time zone)
//   on conflict ("id") do nothing
const usageColumns = Object.entries(getTableColumns(usageEvents));
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const insertUsageHead = sql.raw(
  `insert into ${quote(getTableName(usageEvents))} (${usageColumns.map(([, column]) => quote(column.name)).join(', ')}) ` +
    `select ${usageColumns.map(([key]) => `r.${quote(key)}`).join(', ')} from jsonb_to_recordset(`,
);
const insertUsageTail = sql.raw(
  `::jsonb) as r(${usageColumns.map(([key, column]) => `${quote(key)} ${column.getSQLType()}`).join(', ')}) ` +
    `on conflict (${quote(usageEvents.id.name)}) do nothing`,
);
