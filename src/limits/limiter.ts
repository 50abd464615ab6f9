// deps.limits: admits a request against its key's limits before anything is held, and corrects them
// by what was really used once it is settled. Keys without limits cost nothing (no store call).
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { DatabaseReadGuard } from '../db/read-guard.js';
import { usageEvents } from '../db/schema.js';
import type { AuthContext } from '../http/context.js';
import { ApiError } from '../http/errors.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../log.js';
import { budgetHeaders, formatDuration, rateHeaders } from './headers.js';
import type { LimitAdmitResult, LimitStore } from './types.js';

export interface Admission {
  readonly reservationId: string;
  /** null when the key has no limits: settle and release do nothing. */
  readonly keyId: string | null;
  readonly tpm: number | null;
  readonly admittedTokens: number;
  readonly reservedCostTokens: number;
  readonly month: string;
  /** The x-ratelimit-* (and budget) headers for the response. */
  readonly headers: Record<string, string>;
  settled: boolean;
}

export interface Estimate {
  /** Provider tokens the request may use: prompt estimate plus its output cap. */
  estimatedTokens: number;
  /** Billing tokens it may cost (the hold's worst case); reserved against the key's budget. */
  estimatedCostTokens?: number;
}

export interface Used {
  /** Provider tokens really used (input + output). */
  actualTokens: number;
  /** Billing tokens really charged. */
  costTokens: number;
}

export interface KeyLimiterOptions {
  store: LimitStore;
  db: Db;
  guard: DatabaseReadGuard;
  log: Logger;
  /** A budget reservation whose request never settles ends after this (the hold's TTL). */
  reservationTtlMs: number;
  now?: () => number;
}

const MAX_LOADS = 3;

export class KeyLimiter {
  private readonly now: () => number;

  constructor(private readonly options: KeyLimiterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Admits the request or throws 429 rate_limit_exceeded / 402 budget_exceeded, with headers. */
  async admit(auth: AuthContext, estimate: Estimate): Promise<Admission> {
    const { id: keyId, rpm, tpm, budgetTokens } = auth.key;
    const month = monthOf(this.now());
    const reservationId = newId('adm');
    if (rpm === null && tpm === null && budgetTokens === null) {
      return { reservationId, keyId: null, tpm: null, admittedTokens: 0, reservedCostTokens: 0, month, headers: {}, settled: false };
    }
    const tokens = tpm === null ? 0 : Math.min(Math.max(0, Math.ceil(estimate.estimatedTokens)), tpm);
    let budget = budgetTokens;
    let result: LimitAdmitResult | undefined;
    for (let attempt = 0; attempt < MAX_LOADS; attempt++) {
      result = await this.options.store.admit({
        keyId, rpm, tpm, budgetTokens: budget, tokens, month, reservationId,
        costTokens: Math.max(0, estimate.estimatedCostTokens ?? 0),
        reservationTtlMs: this.options.reservationTtlMs,
      });
      if (result.outcome !== 'spent_missing') break;
      if (!(await this.loadSpent(auth, month))) budget = null; // spend unknown: admit on the rates alone this time
    }
    if (!result || result.outcome === 'spent_missing') throw new Error(`the month's spend of key ${keyId} could not be loaded`);
    const resetAt = nextMonthStart(this.now());
    if (result.outcome === 'budget_exceeded') {
      const headers = budgetHeaders(budgetTokens!, result.spentTokens + result.reservedTokens, resetAt);
      throw new ApiError(
        402,
        'budget_exceeded',
        `This API key has used its monthly budget of ${budgetTokens} tokens (${result.spentTokens} spent this month${result.reservedTokens > 0 ? `, ${result.reservedTokens} held by requests in flight` : ''}); it renews on ${resetAt.toISOString()}. The account's other keys are not affected.`,
        'insufficient_quota',
        null,
        headers,
      );
    }
    const headers = rateHeaders({ rpm, tpm }, result.requests, result.tokens);
    if (result.outcome === 'limited') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      const what = result.limit === 'requests' ? `requests per minute (RPM): limit ${rpm}` : `tokens per minute (TPM): limit ${tpm}, requested ${tokens}`;
      throw new ApiError(
        429,
        'rate_limit_exceeded',
        `Rate limit reached for this API key on ${what}. Please try again in ${formatDuration(result.retryAfterMs)}.`,
        'rate_limit_error',
        null,
        { ...headers, 'retry-after': String(seconds), 'retry-after-ms': String(result.retryAfterMs) },
      );
    }
    if (budgetTokens !== null && result.budget) Object.assign(headers, budgetHeaders(budgetTokens, result.budget.spentTokens + result.budget.reservedTokens, resetAt));
    return { reservationId, keyId, tpm, admittedTokens: tokens, reservedCostTokens: result.reservedCostTokens, month, headers, settled: false };
  }

  /**
   * Corrects the token bucket and the budget by what the request really used. Never throws: the
   * request is already billed, and a failure here only leaves the limits approximate (logged).
   */
  async settle(admission: Admission, used: Used): Promise<void> {
    if (admission.settled || admission.keyId === null) return;
    admission.settled = true;
    try {
      await this.options.store.settle({
        keyId: admission.keyId,
        tpm: admission.tpm,
        tokenDelta: Math.max(0, used.actualTokens) - admission.admittedTokens,
        reservationId: admission.reservationId,
        costTokens: Math.max(0, used.costTokens),
        month: admission.month,
      });
    } catch (error) {
      this.options.log.warn({ err: error, keyId: admission.keyId }, 'could not settle key limits; they stay approximate until the reservation expires');
    }
  }

  /** The request was not served: give its tokens and budget reservation back (the request still counts). */
  release(admission: Admission): Promise<void> {
    return this.settle(admission, { actualTokens: 0, costTokens: 0 });
  }

  /** Reads the month's spend from Postgres into the store; false when Postgres cannot answer. */
  private async loadSpent(auth: AuthContext, month: string): Promise<boolean> {
    const start = monthStart(this.now());
    const end = nextMonthStart(this.now());
    let spent: number;
    try {
      const [row] = await this.options.guard.read(() =>
        this.options.db
          .select({ spent: sql<string>`coalesce(sum(${usageEvents.cost}), 0)` })
          .from(usageEvents)
          .where(and(eq(usageEvents.accountId, auth.accountId), eq(usageEvents.keyId, auth.key.id), gte(usageEvents.createdAt, start), lt(usageEvents.createdAt, end))),
        { force: true }, // no fallback: a busy Postgres gets the longer timeout rather than the budget going unenforced
      );
      spent = Number(row?.spent ?? 0);
    } catch (error) {
      this.options.log.warn({ err: error, keyId: auth.key.id }, "could not load a key's monthly spend; its budget is not enforced on this request");
      return false;
    }
    await this.options.store.initSpent(auth.key.id, month, spent, end.getTime() - this.now() + 7 * 24 * 3600 * 1000);
    return true;
  }
}

const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);
const monthStart = (ms: number) => {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
};
const nextMonthStart = (ms: number) => {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
};
