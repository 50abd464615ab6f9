// HoldStore in process memory, the embedded default when no REDIS_URL is set. It is for ONE gateway
// instance only: balances and holds live in this process. Each step's state change runs without an
// await in between, so it is atomic on the one event loop, with the same semantics as RedisHoldStore.
//
// Settlements waiting for Postgres are journaled (when journalFile is set): each queued settlement is
// appended as a JSON line before the step returns, each ack as an ack line. A new store replays the
// journal, queues what was never acked, and rewrites the file with just those.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type {
  AccountInspection,
  BalanceLoader,
  BalanceView,
  HoldStore,
  QueuedSettlement,
  ReserveRequest,
  ReserveResult,
  Settlement,
  StoreStats,
  SweepResult,
} from './types.js';
import { CAPTURE_MARKER_TTL_MS, checkInteger, checkReserveRequest, checkTokens, MirrorLoader, MISSING, type Missing } from './mirror.js';

export interface MemoryHoldStoreOptions {
  loadBalance: BalanceLoader;
  journalFile?: string;
  now?: () => number;
}


interface Hold {
  amountTokens: number;
  expiresAtMs: number;
  /** What the request would be billed if it died now (the last extend's progress). */
  progress?: Settlement;
}

/** One account, mirroring the Redis keys of RedisHoldStore field by field. */
interface AccountState {
  balanceTokens: number | null; // null: not loaded (bal missing)
  heldTokens: number;
  pendingTokens: number; // captured, not yet settled into Postgres
  gen: number; // bumped whenever Postgres may have moved under the mirror
  captureSeq: number; // captures so far
  loadedAtSeq: number; // captureSeq when the mirror was loaded
  holds: Map<string, Hold>;
  captured: Map<string, number>; // holdId -> marker expiry; insertion order is expiry order
}

interface QueueEntry {
  settlement: Settlement;
  seq: number; // the account's captureSeq for this settlement
  queuedAtMs: number;
}

type JournalLine = { type: 'queued'; id: string; settlement: Settlement } | { type: 'acked'; id: string };


export class MemoryHoldStore implements HoldStore {
  private readonly accounts = new Map<string, AccountState>();
  private readonly queue = new Map<string, QueueEntry>(); // insertion order = settlement order
  private readonly mirror = new MirrorLoader((accountId) => this.loadOnce(accountId));
  private readonly now: () => number;
  private nextId = 1;

  constructor(private readonly options: MemoryHoldStoreOptions) {
    this.now = options.now ?? Date.now;
    if (options.journalFile) this.replayJournal(options.journalFile);
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    checkReserveRequest(request);
    return this.mirror.run(request.accountId, () => this.tryReserve(request));
  }

  async capture(holdId: string, settlement: Settlement): Promise<{ balanceTokens: number }> {
    checkTokens('costTokens', settlement.costTokens);
    const account = this.account(settlement.accountId);
    const now = this.now();
    this.dropExpired(account, now);
    this.charge(account, holdId, settlement, now);
    if (account.balanceTokens !== null) return { balanceTokens: account.balanceTokens };
    // The charge is recorded in pending; loading the mirror tells us the balance it leaves.
    return { balanceTokens: (await this.view(settlement.accountId)).balanceTokens };
  }

  async extend(accountId: string, holdId: string, ttlSeconds: number, progress?: Settlement): Promise<boolean> {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`ttlSeconds must be positive, got ${ttlSeconds}`);
    if (progress) {
      checkTokens('progress costTokens', progress.costTokens);
      if (progress.accountId !== accountId) throw new RangeError(`progress belongs to account ${progress.accountId}, not ${accountId}`);
    }
    const account = this.account(accountId);
    const now = this.now();
    this.dropExpired(account, now);
    const hold = account.holds.get(holdId);
    if (!hold) return false;
    hold.expiresAtMs = now + ttlSeconds * 1000;
    if (progress) hold.progress = progress;
    return true;
  }

  async void(accountId: string, holdId: string): Promise<void> {
    const account = this.account(accountId);
    this.dropExpired(account, this.now());
    endHold(account, holdId);
  }

  async sweepExpired(): Promise<SweepResult> {
    const result: SweepResult = { settled: 0, voided: 0 };
    const now = this.now();
    for (const account of this.accounts.values()) {
      const swept = this.dropExpired(account, now);
      result.settled += swept.settled;
      result.voided += swept.voided;
    }
    return result;
  }

  async inspect(accountIds: string[]): Promise<Map<string, AccountInspection>> {
    const now = this.now();
    const result = new Map<string, AccountInspection>();
    for (const id of accountIds) {
      const account = this.accounts.get(id);
      const holds = account ? [...account.holds.values()] : [];
      result.set(id, {
        balanceTokens: account?.balanceTokens ?? null,
        heldTokens: account?.heldTokens ?? 0,
        pendingTokens: account?.pendingTokens ?? 0,
        openHolds: holds.length,
        expiredHolds: holds.filter((hold) => hold.expiresAtMs <= now).length,
      });
    }
    return result;
  }

  async stats(): Promise<StoreStats> {
    const now = this.now();
    let expiredHolds = 0;
    for (const account of this.accounts.values()) for (const hold of account.holds.values()) if (hold.expiresAtMs <= now) expiredHolds += 1;
    const oldest = this.queue.values().next();
    return { queuedSettlements: this.queue.size, oldestQueuedAtMs: oldest.done ? null : oldest.value.queuedAtMs, expiredHolds };
  }

  async view(accountId: string): Promise<BalanceView> {
    return this.mirror.run(accountId, () => this.tryView(accountId));
  }

  async invalidate(accountId: string): Promise<void> {
    const account = this.account(accountId);
    account.gen += 1;
    account.balanceTokens = null;
  }

  async claimSettlements(max: number): Promise<QueuedSettlement[]> {
    if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`max must be a positive integer, got ${max}`);
    // Claims always take the oldest entries, so those claimed before and not acked come first.
    const claimed: QueuedSettlement[] = [];
    for (const [id, entry] of this.queue) {
      if (claimed.length === max) break;
      claimed.push({ id, settlement: entry.settlement });
    }
    return claimed;
  }

  async ackSettlements(entries: QueuedSettlement[]): Promise<void> {
    const journal = this.options.journalFile;
    // Acked before (or listed twice): pending already counts it as settled.
    const acked = [...new Set(entries.map((entry) => entry.id))].filter((id) => this.queue.has(id));
    // Journal first, in one write: if the append throws, nothing has changed.
    if (journal && acked.length > 0) appendFileSync(journal, acked.map((id) => journalText({ type: 'acked', id })).join(''));
    for (const id of acked) {
      this.settled(this.queue.get(id)!);
      this.queue.delete(id);
    }
    // Nothing left to settle: an empty journal says the same thing, and keeps the file small.
    if (journal && this.queue.size === 0 && entries.length > 0) writeFileSync(journal, '');
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private account(accountId: string): AccountState {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = {
        balanceTokens: null,
        heldTokens: 0,
        pendingTokens: 0,
        gen: 0,
        captureSeq: 0,
        loadedAtSeq: 0,
        holds: new Map(),
        captured: new Map(),
      };
      this.accounts.set(accountId, account);
    }
    return account;
  }

  private tryReserve(request: ReserveRequest): ReserveResult | Missing {
    const account = this.account(request.accountId);
    const now = this.now();
    this.dropExpired(account, now);
    if (account.balanceTokens === null) return MISSING;
    const available = account.balanceTokens - account.heldTokens;
    const existing = account.holds.get(request.holdId);
    // A retried reserve with the same holdId holds once.
    if (existing) return { ok: true, heldTokens: existing.amountTokens, availableTokens: available };
    const hold = Math.min(request.amountTokens, Math.max(available, 0));
    if (hold < request.minimumTokens) return { ok: false, availableTokens: available };
    account.holds.set(request.holdId, { amountTokens: hold, expiresAtMs: now + request.ttlSeconds * 1000 });
    account.heldTokens += hold;
    return { ok: true, heldTokens: hold, availableTokens: available - hold };
  }

  private tryView(accountId: string): BalanceView | Missing {
    const account = this.account(accountId);
    this.dropExpired(account, this.now());
    if (account.balanceTokens === null) return MISSING;
    return { balanceTokens: account.balanceTokens, heldTokens: account.heldTokens };
  }

  private async loadOnce(accountId: string): Promise<void> {
    const account = this.account(accountId);
    // gen is read before Postgres: if it moves before the load lands, our Postgres read may be stale.
    const gen = account.gen;
    const balance = await this.options.loadBalance(accountId);
    checkInteger('loaded balance', balance);
    if (account.gen !== gen || account.balanceTokens !== null) return;
    account.balanceTokens = balance - account.pendingTokens;
    account.loadedAtSeq = account.captureSeq;
  }

  /** Charges a hold once (the marker refuses a second capture), as RedisHoldStore's charge(). */
  private charge(account: AccountState, holdId: string, settlement: Settlement, now: number): void {
    pruneCaptureMarkers(account, now);
    if (account.captured.has(holdId)) return;
    // Journal first: if the append throws, nothing has changed.
    this.enqueue(settlement, account);
    endHold(account, holdId);
    account.captured.set(holdId, now + CAPTURE_MARKER_TTL_MS);
    account.pendingTokens += settlement.costTokens;
    if (account.balanceTokens !== null) account.balanceTokens -= settlement.costTokens;
  }

  /** Ends expired holds: settled by their last progress (their request died), else released. */
  private dropExpired(account: AccountState, now: number): SweepResult {
    const result: SweepResult = { settled: 0, voided: 0 };
    for (const [holdId, hold] of account.holds) {
      if (hold.expiresAtMs > now) continue;
      if (hold.progress) {
        this.charge(account, holdId, hold.progress, now);
        result.settled += 1;
      } else {
        endHold(account, holdId);
        result.voided += 1;
      }
    }
    return result;
  }

  private enqueue(settlement: Settlement, account: AccountState): void {
    const id = String(this.nextId++);
    if (this.options.journalFile) appendJournal(this.options.journalFile, { type: 'queued', id, settlement });
    account.captureSeq += 1;
    this.queue.set(id, { settlement, seq: account.captureSeq, queuedAtMs: this.now() });
  }

  /**
   * The settlement is in Postgres now. Moving gen refuses a load that read Postgres before it landed.
   * A mirror loaded after the capture may have read Postgres after the settlement was written but
   * before this ack, subtracting the cost twice (in Postgres and as pending): drop it to be reloaded.
   */
  private settled(entry: QueueEntry): void {
    const account = this.account(entry.settlement.accountId);
    account.pendingTokens -= entry.settlement.costTokens;
    account.gen += 1;
    if (account.loadedAtSeq >= entry.seq) account.balanceTokens = null;
  }

  /** Queues what the journal holds and nobody acked (counted as pending), then compacts the file. */
  private replayJournal(file: string): void {
    const unacked = new Map<string, Settlement>();
    if (existsSync(file)) {
      for (const line of readJournal(file)) {
        if (line.type === 'queued') unacked.set(line.id, line.settlement);
        else unacked.delete(line.id);
        this.nextId = Math.max(this.nextId, Number(line.id) + 1);
      }
    }
    for (const [id, settlement] of unacked) {
      const account = this.account(settlement.accountId);
      account.captureSeq += 1;
      account.pendingTokens += settlement.costTokens;
      this.queue.set(id, { settlement, seq: account.captureSeq, queuedAtMs: this.now() });
    }
    const compacted = [...unacked].map(([id, settlement]) => journalText({ type: 'queued', id, settlement }));
    writeFileSync(`${file}.tmp`, compacted.join(''));
    renameSync(`${file}.tmp`, file); // atomic: a crash leaves either the old or the compacted journal
  }
}

function endHold(account: AccountState, holdId: string): void {
  const hold = account.holds.get(holdId);
  if (!hold) return;
  account.holds.delete(holdId);
  account.heldTokens -= hold.amountTokens;
}

function pruneCaptureMarkers(account: AccountState, now: number): void {
  for (const [holdId, expiresAtMs] of account.captured) {
    if (expiresAtMs > now) break;
    account.captured.delete(holdId);
  }
}

function journalText(line: JournalLine): string {
  return `${JSON.stringify(line)}\n`;
}

function appendJournal(file: string, line: JournalLine): void {
  appendFileSync(file, journalText(line));
}

/** Skips lines that do not parse: only the last one can be torn, by a crash mid-append. */
function readJournal(file: string): JournalLine[] {
  const lines: JournalLine[] = [];
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    try {
      const line = JSON.parse(text) as JournalLine;
      if ((line.type === 'queued' || line.type === 'acked') && typeof line.id === 'string') lines.push(line);
    } catch {
      continue;
    }
  }
  return lines;
}



