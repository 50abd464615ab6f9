// Per-key limits (SPEC 3.3): requests and tokens per minute, and a monthly budget in billing tokens.
// Two stores keep the state with the same semantics: Redis (one Lua script per step, shared by every
// instance) and in-process (one instance). src/limits/limiter.ts turns their answers into admissions,
// headers and errors.
//
// Rates are token buckets refilled continuously: a bucket holds up to its limit and refills the whole
// limit in 60 s. A request takes 1 from the request bucket and its estimated tokens from the token
// bucket (at most the whole limit, so a large request passes when the bucket is full); settlement
// corrects the token bucket by what was really used, which may leave it in debt.
// The budget counts the cost of settled requests in the calendar month (UTC) plus reservations of
// requests in flight; a reservation expires if its request never settles (instance killed).

export interface BucketState {
  /** Whole units left after this step (never negative). */
  remaining: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

export interface LimitAdmit {
  keyId: string;
  rpm: number | null;
  tpm: number | null;
  budgetTokens: number | null;
  /** Taken from the token bucket: min(estimate, tpm). */
  tokens: number;
  /** Reserved against the budget: min(estimated cost, what is left of it). */
  costTokens: number;
  reservationId: string;
  reservationTtlMs: number;
  /** The budget month, `YYYY-MM` (UTC). */
  month: string;
}

export type LimitAdmitResult =
  | {
      outcome: 'admitted';
      requests: BucketState | null;
      tokens: BucketState | null;
      /** Settled cost this month and what is reserved, this request's reservation included. */
      budget: { spentTokens: number; reservedTokens: number } | null;
      reservedCostTokens: number;
    }
  | { outcome: 'limited'; limit: 'requests' | 'tokens'; retryAfterMs: number; requests: BucketState | null; tokens: BucketState | null }
  | { outcome: 'budget_exceeded'; spentTokens: number; reservedTokens: number }
  /** The month's spend is not known to the store: load it (from Postgres) and try again. */
  | { outcome: 'spent_missing' };

export interface LimitSettle {
  keyId: string;
  tpm: number | null;
  /** Actual tokens minus those taken at admission: positive takes more, negative gives back. */
  tokenDelta: number;
  reservationId: string;
  costTokens: number;
  month: string;
}

export interface LimitStore {
  admit(request: LimitAdmit): Promise<LimitAdmitResult>;
  settle(request: LimitSettle): Promise<void>;
  /** Sets the month's spend if it is not set (a concurrent settle or loader got there first: keep theirs). */
  initSpent(keyId: string, month: string, spentTokens: number, ttlMs: number): Promise<void>;
}
