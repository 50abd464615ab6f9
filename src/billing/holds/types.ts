// The balance-and-holds contract (SPEC 3.4 and 3.7). Two implementations pass one shared test suite:
// Redis (Lua, one round trip per step, for any number of instances) and in-process (embedded default).
//
// Model: per account the store keeps a mirror of the balance (Postgres balance minus captures that are
// not yet settled into Postgres), the open holds, and a queue of settlements waiting for Postgres.
// available = balance - sum(open holds). Holds expire after their TTL so a crash never freezes money.

export interface Settlement {
  requestId: string;
  accountId: string;
  keyId: string | null;
  model: string;
  provider: string;
  operation: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  images: number;
  /** Built-in tool calls billed per call, by tool; absent when there were none. */
  toolCalls?: Record<string, number>;
  costTokens: number;
  rates: Record<string, unknown>;
  usageSource: 'provider' | 'estimated';
  /** 'interrupted': settled by a hold's last recorded progress after its instance died. */
  status: 'ok' | 'error' | 'client_aborted' | 'interrupted';
  latencyMs: number;
  stream: boolean;
  createdAt: string; // ISO time the request started
}

export interface ReserveRequest {
  accountId: string;
  holdId: string;
  /** The worst-case cost: what we would like to hold. */
  amountTokens: number;
  /** The least hold that still lets the request run; equal to amountTokens for an all-or-nothing hold. */
  minimumTokens: number;
  ttlSeconds: number;
}

export type ReserveResult =
  | { ok: true; heldTokens: number; availableTokens: number } // availableTokens: after this hold
  | { ok: false; availableTokens: number };

export interface BalanceView {
  balanceTokens: number;
  heldTokens: number;
}

export interface QueuedSettlement {
  id: string; // queue entry id, for ack
  settlement: Settlement;
}

export interface HoldStore {
  /**
   * Holds min(amountTokens, available) if that is at least minimumTokens, atomically; loads the
   * balance mirror through loadBalance() when the store does not have it.
   */
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /** Ends a hold by charging costTokens (may exceed the hold) and queues the settlement, atomically. */
  capture(holdId: string, settlement: Settlement): Promise<{ balanceTokens: number }>;
  /**
   * Keeps an open hold alive while its request runs: its expiry becomes now + ttlSeconds. `progress`
   * is what the request would be billed if it died now (delivered part, status 'interrupted'); a store
   * may keep it so an expired hold is settled by it. Returns false when the hold is no longer open.
   */
  extend(accountId: string, holdId: string, ttlSeconds: number, progress?: Settlement): Promise<boolean>;
  /** Ends a hold without charge. Unknown or expired holds are a no-op. */
  void(accountId: string, holdId: string): Promise<void>;
  /** Balance and held amount as the store sees them (loads the mirror on a miss). */
  view(accountId: string): Promise<BalanceView>;
  /** Postgres balance changed outside the store (grant, purchase): drop or rebuild the mirror. */
  invalidate(accountId: string): Promise<void>;
  /** Settlements waiting for Postgres: those claimed before and not acked first, then new ones. */
  claimSettlements(max: number): Promise<QueuedSettlement[]>;
  /** Marks settlements as written to Postgres. */
  ackSettlements(entries: QueuedSettlement[]): Promise<void>;
  /**
   * The sweeper: ends holds that expired without capture (their instance died or stopped extending
   * them). One that recorded progress is charged by it (queued like a capture, billed once: the marker
   * of its hold id refuses a later capture); one without progress is voided. Safe on every instance at once.
   */
  sweepExpired(max?: number): Promise<SweepResult>;
  /** What the store holds for these accounts, for reconcile (read-only; no mirror is loaded). */
  inspect(accountIds: string[]): Promise<Map<string, AccountInspection>>;
  /** The settlement queue and hold expiry, for reconcile. */
  stats(): Promise<StoreStats>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface SweepResult {
  settled: number;
  voided: number;
}

export interface AccountInspection {
  /** null: no mirror loaded (it is loaded from Postgres on the next use). */
  balanceTokens: number | null;
  heldTokens: number;
  /** Captured and queued, not yet acknowledged as written to Postgres. */
  pendingTokens: number;
  openHolds: number;
  /** Holds past their expiry that no step has ended yet (the sweeper will). */
  expiredHolds: number;
  /** Captures in this instance's local journal that Postgres does not have yet (durable stores only). */
  journaledCaptures?: number;
  /** Mirror resets Redis refused, waiting in this instance's outbox (durable stores only). */
  owedMirrorResets?: number;
}

export interface StoreStats {
  queuedSettlements: number;
  /** When the oldest queued settlement was captured (ms since the epoch), null when none. */
  oldestQueuedAtMs: number | null;
  expiredHolds: number;
  /** Captures in this instance's local journal that Postgres does not have yet (durable stores only). */
  journaledCaptures?: number;
  /** Mirror resets Redis refused, waiting in this instance's outbox (durable stores only). */
  owedMirrorResets?: number;
}

/** Reads an account's Postgres balance; the store calls it when its mirror is missing. */
export type BalanceLoader = (accountId: string) => Promise<number>;
