// Watches settled debits for accounts whose available balance falls below their low-balance
// threshold (the account's own, else the `lowBalanceThreshold` setting), records one alert per
// crossing, and POSTs a signed event to the admin's webhook when one is configured, with retries.
// Runs off the request path: the settler tells it which accounts each committed batch debited.
import { inArray } from 'drizzle-orm';
import type { Settings } from '../accounts/settings.js';
import type { HoldStore } from '../billing/holds/types.js';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';
import type { Logger } from '../log.js';
import { recordCrossing, recordDelivery, type AlertRow } from './alerts.js';
import { attemptDelivery, systemResolver, type Resolver, type Target } from './webhook.js';

export interface LowBalanceMonitorOptions {
  db: Db;
  holds: HoldStore;
  settings: { get(): Promise<Settings> };
  log: Logger;
  /** Waits before each retry of a failed delivery (its length is the number of retries). */
  retryDelaysMs?: number[];
  /**
   * Checks run at most this often: accounts settled meanwhile are checked together, once each, so an
   * account that stays below its threshold under heavy traffic costs a few checks a second, not one
   * per settled batch.
   */
  intervalMs?: number;
  timeoutMs?: number;
  resolve?: Resolver;
  now?: () => number;
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000];

export class LowBalanceMonitor {
  private readonly waiting = new Set<string>();
  /** The next check, scheduled or running; undefined when nothing waits. */
  private next: Promise<void> | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly deliveries = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: LowBalanceMonitorOptions) {}

  /** For Settler.onSettled: queues the accounts and returns at once. */
  readonly onSettled = (accountIds: string[]): void => {
    if (this.closed) return;
    for (const id of accountIds) this.waiting.add(id);
    this.next ??= this.checkSoon();
  };

  /** Resolves when every queued check and every delivery attempt started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.next || this.deliveries.size > 0) {
      await this.next;
      await Promise.all([...this.deliveries]);
    }
  }

  /** Stops checking and cancels scheduled retries (their alerts stay `pending`). */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.next;
  }

  private async checkSoon(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.intervalMs ?? 200);
      timer.unref();
    });
    const batch = [...this.waiting];
    this.waiting.clear();
    try {
      if (!this.closed) await this.check(batch);
    } catch (error) {
      this.options.log.warn({ err: error, accounts: batch.length }, 'low-balance check failed; the next settlement of these accounts checks again');
    } finally {
      // Accounts settled while this check ran wait for the next one.
      this.next = this.waiting.size > 0 && !this.closed ? this.checkSoon() : undefined;
    }
  }

  private async check(accountIds: string[]): Promise<void> {
    const settings = await this.options.settings.get();
    const rows = await this.options.db
      .select({ id: accounts.id, threshold: accounts.lowBalanceThreshold })
      .from(accounts)
      .where(inArray(accounts.id, accountIds));
    const hook = settings.alertWebhook;
    const target: Target | null = hook.url && hook.secret ? { url: hook.url, secret: hook.secret, allowPrivateAddresses: hook.allowPrivateAddresses } : null;
    for (const row of rows) {
      const threshold = row.threshold ?? settings.lowBalanceThreshold;
      // A cheap look first: most settlements leave the balance above the threshold.
      const view = await this.options.holds.view(row.id);
      if (view.balanceTokens - view.heldTokens >= threshold) continue;
      const alert = await recordCrossing(this.options.db, { accountId: row.id, threshold, view: () => this.options.holds.view(row.id), webhook: target !== null });
      if (!alert) continue;
      this.options.log.info({ accountId: row.id, alertId: alert.id, available: alert.available, threshold }, 'low balance alert');
      if (target) this.track(this.deliver(alert, target, 0));
    }
  }

  private track(delivery: Promise<void>): void {
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
  }

  private async deliver(alert: AlertRow, target: Target, previousAttempts: number): Promise<void> {
    const attempts = previousAttempts + 1;
    const result = await attemptDelivery(target, eventBody(alert), {
      timeoutMs: this.options.timeoutMs ?? 10_000,
      resolve: this.options.resolve ?? systemResolver,
      now: () => this.now(),
    });
    const delays = this.options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    const retry = result.outcome === 'retry' && previousAttempts < delays.length && !this.closed;
    const status = result.outcome === 'delivered' ? 'delivered' : retry ? 'pending' : result.outcome === 'retry' ? 'failed' : result.outcome;
    const error = result.outcome === 'delivered' ? null : result.error;
    try {
      await recordDelivery(this.options.db, alert.id, { status, attempts, error });
    } catch (dbError) {
      this.options.log.warn({ err: dbError, alertId: alert.id }, 'could not record a webhook delivery');
    }
    if (error) this.options.log.warn({ alertId: alert.id, attempts, status, reason: error }, 'low balance webhook not delivered');
    if (!retry) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(this.deliver(alert, target, attempts));
    }, delays[previousAttempts]);
    timer.unref();
    this.timers.add(timer);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** The event, the same on every attempt (only the signature's timestamp changes). */
export function eventBody(alert: AlertRow): string {
  return JSON.stringify({
    id: `evt_${alert.id}`,
    type: 'account.balance_low',
    created: Math.floor(alert.createdAt.getTime() / 1000),
    data: {
      alertId: alert.id,
      accountId: alert.accountId,
      balance: alert.balance,
      available: alert.available,
      threshold: alert.threshold,
      createdAt: alert.createdAt.toISOString(),
    },
  });
}
