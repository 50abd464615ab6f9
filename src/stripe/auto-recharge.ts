// Auto-recharge: after a settlement leaves an account's available balance below its threshold, charge
// its saved card off-session for its package. One pending PaymentIntent per account at a time (the
// partial unique index on auto_recharge_attempts is the lock, across instances), never beyond the
// monthly limit, and the tokens come only with payment_intent.succeeded (recharge-outcomes.ts).
import { and, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { SettingsStore } from '../accounts/settings.js';
import type { HoldStore } from '../billing/holds/types.js';
import type { Db } from '../db/client.js';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../db/errors.js';
import { accounts, autoRechargeAttempts } from '../db/schema.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../log.js';
import { StripeErrors, type StripeClient } from './client.js';
import { META } from './events.js';
import { findActivePackage } from './packages.js';
import { countFailure, recordRechargeFailure } from './recharge-outcomes.js';

export interface AutoRechargeDeps {
  db: Db;
  holds: HoldStore;
  stripe: StripeClient;
  settings: SettingsStore;
  log: Logger;
  /** Back-off after the first failure; doubled after each further one. */
  retrySeconds: number;
}

type AccountRow = typeof accounts.$inferSelect;
type Attempt = typeof autoRechargeAttempts.$inferSelect;

/** An attempt left pending without a PaymentIntent this long was cut short (crash, Stripe unreachable). */
const RESUME_AFTER_MS = 10 * 60_000;

export class AutoRecharger {
  private readonly checking = new Set<string>();
  private readonly recheck = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: AutoRechargeDeps) {}

  /** The settler's listener: these accounts were just debited. Works off the settlement path; never throws. */
  onSettled(accountIds: string[]): void {
    if (this.stopped || accountIds.length === 0) return;
    this.track(this.checkAccounts(accountIds));
  }

  /** Resolves when no check is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => this.deps.log.error({ err: error }, 'auto-recharge check failed'))
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async checkAccounts(accountIds: string[]): Promise<void> {
    // One query per settled batch; accounts without auto-recharge or without a Stripe customer drop out here.
    const rows = await this.deps.db
      .select()
      .from(accounts)
      .where(and(inArray(accounts.id, accountIds), eq(accounts.autoRechargeEnabled, true), isNotNull(accounts.stripeCustomerId)));
    await Promise.all(rows.map((row) => this.checkAccount(row)));
  }

  /** One check per account at a time in this instance; a settlement during a check asks for another. */
  private async checkAccount(row: AccountRow): Promise<void> {
    if (this.checking.has(row.id)) {
      this.recheck.add(row.id);
      return;
    }
    this.checking.add(row.id);
    try {
      await this.maybeRecharge(row);
    } finally {
      this.checking.delete(row.id);
      if (this.recheck.delete(row.id) && !this.stopped) this.track(this.checkAccounts([row.id]));
    }
  }

  private async maybeRecharge(row: AccountRow): Promise<void> {
    if (row.autoRechargeRetryAt && row.autoRechargeRetryAt.getTime() > Date.now()) return; // backing off
    const defaults = (await this.deps.settings.get()).autoRecharge;
    const threshold = row.autoRechargeThreshold ?? defaults.threshold;
    const { balanceTokens, heldTokens } = await this.deps.holds.view(row.id);
    if (balanceTokens - heldTokens >= threshold) return;
    const attempt = await this.startAttempt(row, row.autoRechargePackageId ?? defaults.packageId, row.autoRechargeMonthlyLimitTokens ?? defaults.monthlyLimitTokens);
    if (attempt) await this.charge(row.stripeCustomerId!, attempt);
  }

  /** Inserts the pending attempt (the lock) if the month's limit allows; resumes one cut short. */
  private async startAttempt(row: AccountRow, packageId: string, monthlyLimitTokens: number): Promise<Attempt | null> {
    const { db, retrySeconds } = this.deps;
    try {
      return await db.transaction(async (tx) => {
        const [pending] = await tx
          .select()
          .from(autoRechargeAttempts)
          .where(and(eq(autoRechargeAttempts.accountId, row.id), eq(autoRechargeAttempts.status, 'pending')));
        if (pending) {
          // Claimed by moving updated_at, so only one instance resumes it (same idempotency key: one payment).
          const [resumed] = await tx
            .update(autoRechargeAttempts)
            .set({ updatedAt: new Date() })
            .where(
              and(
                eq(autoRechargeAttempts.id, pending.id),
                isNull(autoRechargeAttempts.paymentIntentId),
                lt(autoRechargeAttempts.updatedAt, new Date(Date.now() - RESUME_AFTER_MS)),
              ),
            )
            .returning();
          return resumed ?? null;
        }
        const pkg = await findActivePackage(tx, packageId);
        if (!pkg) {
          const message = `Auto-recharge package '${packageId}' is not available any more; choose another one.`;
          await countFailure(tx, row.id, { code: 'package_unavailable', declineCode: null, message, paymentIntentId: null }, retrySeconds);
          return null;
        }
        // Calendar month in UTC; pending and succeeded attempts count, failed ones cost nothing.
        const [month] = await tx
          .select({ tokens: sql<string>`coalesce(sum(${autoRechargeAttempts.tokens}), 0)` })
          .from(autoRechargeAttempts)
          .where(
            and(
              eq(autoRechargeAttempts.accountId, row.id),
              inArray(autoRechargeAttempts.status, ['pending', 'succeeded']),
              sql`${autoRechargeAttempts.createdAt} >= date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'`,
            ),
          );
        if (Number(month?.tokens ?? 0) + pkg.tokens > monthlyLimitTokens) {
          this.deps.log.debug({ accountId: row.id }, 'auto-recharge skipped: monthly limit reached');
          return null;
        }
        const [attempt] = await tx
          .insert(autoRechargeAttempts)
          .values({ id: newId('arc'), accountId: row.id, packageId: pkg.id, tokens: pkg.tokens, amountCents: pkg.priceCents, currency: pkg.currency })
          .returning();
        return attempt!;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION) return null; // another instance started one
      throw error;
    }
  }

  private async charge(customerId: string, attempt: Attempt): Promise<void> {
    const { db, stripe, log, retrySeconds } = this.deps;
    const fail = (code: string, message: string, declineCode: string | null = null, paymentIntentId: string | null = null) =>
      db.transaction((tx) => recordRechargeFailure(tx, attempt.id, { code, declineCode, message, paymentIntentId }, retrySeconds));
    try {
      const methods = await stripe.customers.listPaymentMethods(customerId, { limit: 1 });
      const method = methods.data[0];
      if (!method) {
        await fail('no_payment_method', 'No saved payment method: buy a package once with auto-recharge enabled to save a card.');
        return;
      }
      const intent = await stripe.paymentIntents.create(
        {
          amount: attempt.amountCents,
          currency: attempt.currency,
          customer: customerId,
          payment_method: method.id,
          off_session: true,
          confirm: true,
          // Server-side confirmation: nothing may need a redirect (and so a return_url).
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          description: `tokengate auto-recharge: ${attempt.tokens} tokens`,
          metadata: {
            [META.kind]: 'auto_recharge',
            [META.account]: attempt.accountId,
            [META.attempt]: attempt.id,
            [META.package]: attempt.packageId,
            [META.tokens]: String(attempt.tokens),
          },
        },
        { idempotencyKey: `tokengate-auto-recharge-${attempt.id}` },
      );
      await db
        .update(autoRechargeAttempts)
        .set({ paymentIntentId: intent.id, updatedAt: new Date() })
        .where(and(eq(autoRechargeAttempts.id, attempt.id), isNull(autoRechargeAttempts.paymentIntentId)));
      // succeeded or processing: the webhook credits it. Anything else will not complete off-session.
      if (intent.status !== 'succeeded' && intent.status !== 'processing') {
        const code = intent.status === 'requires_action' ? 'authentication_required' : intent.status;
        await fail(code, intent.last_payment_error?.message ?? `The payment needs the customer (status ${intent.status}).`, intent.last_payment_error?.decline_code ?? null, intent.id);
      }
    } catch (error) {
      if (error instanceof StripeErrors.StripeConnectionError || error instanceof StripeErrors.StripeAPIError || error instanceof StripeErrors.StripeRateLimitError) {
        // The payment may or may not exist: the attempt stays pending and is resumed with the same key.
        log.warn({ err: error, accountId: attempt.accountId, attemptId: attempt.id }, 'auto-recharge: Stripe did not answer; the attempt will be resumed');
        return;
      }
      if (error instanceof StripeErrors.StripeError) {
        await fail(error.code ?? error.type, error.message, error.decline_code ?? null, error.payment_intent?.id ?? null);
        return;
      }
      throw error;
    }
  }
}
