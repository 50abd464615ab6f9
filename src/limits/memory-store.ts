// LimitStore in process memory, for the embedded single-instance mode: the same semantics as the Redis
// scripts (scripts.ts), each step without an await in between, so atomic on the one event loop.
import type { BucketState, LimitAdmit, LimitAdmitResult, LimitSettle, LimitStore } from './types.js';

interface Bucket {
  level: number;
  at: number;
}

interface KeyState {
  requests?: Bucket;
  tokens?: Bucket;
  spent: Map<string, { tokens: number; expiresAt: number }>; // month -> settled cost
  reservations: Map<string, { amount: number; expiresAt: number }>;
}

const WINDOW_MS = 60_000;

export class MemoryLimitStore implements LimitStore {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly now: () => number = Date.now) {}

  async admit(request: LimitAdmit): Promise<LimitAdmitResult> {
    const now = this.now();
    const state = this.state(request.keyId);
    let spent = 0;
    let reserved = 0;
    if (request.budgetTokens !== null) {
      const known = this.spentEntry(state, request.month, now);
      if (!known) return { outcome: 'spent_missing' };
      spent = known.tokens;
      reserved = this.reserved(state, now);
      if (spent + reserved >= request.budgetTokens) return { outcome: 'budget_exceeded', spentTokens: spent, reservedTokens: reserved };
    }
    const r = request.rpm === null ? 0 : level(state.requests, request.rpm, now);
    const tk = request.tpm === null ? 0 : level(state.tokens, request.tpm, now);
    const view = (l: number, cap: number | null): BucketState | null => (cap === null ? null : { remaining: whole(l), resetMs: untilFull(l, cap) });
    if (request.rpm !== null && r < 1) {
      return { outcome: 'limited', limit: 'requests', retryAfterMs: Math.ceil(((1 - r) * WINDOW_MS) / request.rpm), requests: view(r, request.rpm), tokens: view(tk, request.tpm) };
    }
    if (request.tpm !== null && tk < request.tokens) {
      return { outcome: 'limited', limit: 'tokens', retryAfterMs: Math.ceil(((request.tokens - tk) * WINDOW_MS) / request.tpm), requests: view(r, request.rpm), tokens: view(tk, request.tpm) };
    }
    if (request.rpm !== null) state.requests = { level: r - 1, at: now };
    if (request.tpm !== null) state.tokens = { level: tk - request.tokens, at: now };
    let held = 0;
    if (request.budgetTokens !== null) {
      held = Math.min(request.costTokens, request.budgetTokens - spent - reserved);
      if (held > 0) state.reservations.set(request.reservationId, { amount: held, expiresAt: now + request.reservationTtlMs });
      reserved += Math.max(held, 0);
    }
    return {
      outcome: 'admitted',
      requests: view(r - 1, request.rpm),
      tokens: view(tk - request.tokens, request.tpm),
      budget: request.budgetTokens === null ? null : { spentTokens: spent, reservedTokens: reserved },
      reservedCostTokens: Math.max(held, 0),
    };
  }

  async settle(request: LimitSettle): Promise<void> {
    const now = this.now();
    const state = this.state(request.keyId);
    state.reservations.delete(request.reservationId);
    const known = this.spentEntry(state, request.month, now);
    if (known && request.costTokens > 0) known.tokens += request.costTokens;
    if (request.tpm !== null && request.tokenDelta !== 0) {
      state.tokens = { level: Math.min(request.tpm, level(state.tokens, request.tpm, now) - request.tokenDelta), at: now };
    }
  }

  async initSpent(keyId: string, month: string, spentTokens: number, ttlMs: number): Promise<void> {
    const state = this.state(keyId);
    if (!this.spentEntry(state, month, this.now())) state.spent.set(month, { tokens: spentTokens, expiresAt: this.now() + ttlMs });
  }

  private state(keyId: string): KeyState {
    let state = this.keys.get(keyId);
    if (!state) this.keys.set(keyId, (state = { spent: new Map(), reservations: new Map() }));
    return state;
  }

  private spentEntry(state: KeyState, month: string, now: number) {
    const entry = state.spent.get(month);
    if (entry && entry.expiresAt <= now) {
      state.spent.delete(month);
      return undefined;
    }
    return entry;
  }

  private reserved(state: KeyState, now: number): number {
    let total = 0;
    for (const [id, reservation] of state.reservations) {
      if (reservation.expiresAt <= now) state.reservations.delete(id);
      else total += reservation.amount;
    }
    return total;
  }
}

function level(bucket: Bucket | undefined, cap: number, now: number): number {
  if (!bucket) return cap;
  return Math.min(cap, bucket.level + ((now - bucket.at) * cap) / WINDOW_MS);
}

const untilFull = (l: number, cap: number) => Math.ceil(((cap - l) * WINDOW_MS) / cap);
const whole = (l: number) => (l < 0 ? 0 : Math.floor(l));
