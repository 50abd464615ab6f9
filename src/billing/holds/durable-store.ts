// RedisHoldStore made durable against Redis losing data (FLUSHALL, a restart without AOF, the last
// second of an AOF, a failover to a lagging replica) and against mirror resets that Redis refused:
//   - a capture resolves only when it is in Redis AND in the local journal (fsync'd);
//   - every second the journal forgets what Postgres has; markers on every shard reveal a data loss;
//   - after a reconnect, a lost marker, or at start, this instance replays: journaled captures not yet
//     in Postgres are captured again (the capture marker makes it a no-op where Redis kept them), the
//     mirrors they touch and those whose reset failed are reset, and only then does it reserve again.
import type { Logger } from '../../log.js';
import type { CaptureJournal } from './capture-journal.js';
import type { RedisClient, RedisHoldStore } from './redis-store.js';
import type { HoldStore, QueuedSettlement, ReserveRequest, ReserveResult, Settlement, StoreStats } from './types.js';

export interface DurableHoldStoreOptions {
  inner: RedisHoldStore;
  redis: RedisClient;
  journal: CaptureJournal;
  /** Which of these request ids Postgres has (usage_events); throws when Postgres is unreachable. */
  committed: (requestIds: string[]) => Promise<Set<string>>;
  log: Logger;
  checkIntervalMs?: number;
}

const CHUNK = 500;

/** Redis refused the capture, but it is in the local journal: it is replayed when Redis answers again. */
export class JournaledCaptureError extends Error {
  readonly journaled = true;
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    // Keeps the cause's name: the HTTP layer tells an unreachable Redis (503) by it.
    this.name = cause instanceof Error ? cause.name : 'JournaledCaptureError';
  }
}

export class DurableHoldStore implements HoldStore {
  private readonly inner: RedisHoldStore;
  private readonly journal: CaptureJournal;
  private recovery: Promise<void> | undefined;
  private recovered = false;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly options: DurableHoldStoreOptions) {
    this.inner = options.inner;
    this.journal = options.journal;
    options.redis.on('close', () => (this.recovered = false));
    options.redis.on('ready', () => void this.recover('reconnect').catch(() => undefined));
  }

  /** Recovers once now (Redis may be down: then at its return) and checks every second after. */
  start(): void {
    void this.recover('start').catch(() => undefined);
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs ?? 1_000);
    this.timer.unref();
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    // An account is not served from a mirror that a replay is about to correct.
    if (this.recovery) await this.recovery.catch(() => undefined);
    return this.inner.reserve(request);
  }

  async capture(holdId: string, settlement: Settlement): Promise<{ balanceTokens: number }> {
    const [journaled, captured] = await Promise.allSettled([this.journal.append(holdId, settlement), this.inner.capture(holdId, settlement)]);
    if (captured.status === 'rejected') {
      throw journaled.status === 'fulfilled' ? new JournaledCaptureError(captured.reason) : captured.reason;
    }
    // In Redis but not on disk: the caller settles it straight into Postgres rather than trust Redis alone.
    if (journaled.status === 'rejected') throw journaled.reason;
    return captured.value;
  }

  extend(accountId: string, holdId: string, ttlSeconds: number, progress?: Settlement): Promise<boolean> {
    return this.inner.extend(accountId, holdId, ttlSeconds, progress);
  }

  void(accountId: string, holdId: string): Promise<void> {
    return this.inner.void(accountId, holdId);
  }

  view(accountId: string) {
    return this.inner.view(accountId);
  }

  /** Never lost: a reset Redis refuses goes to the journal's outbox and is retried at its return. */
  async invalidate(accountId: string): Promise<void> {
    try {
      await this.inner.invalidate(accountId);
    } catch (error) {
      await this.journal.oweReset(accountId);
      this.options.log.warn({ err: error, accountId }, 'could not reset the balance mirror; it is reset when Redis answers again');
    }
  }

  claimSettlements(max: number): Promise<QueuedSettlement[]> {
    return this.inner.claimSettlements(max);
  }

  ackSettlements(entries: QueuedSettlement[]): Promise<void> {
    return this.inner.ackSettlements(entries);
  }

  sweepExpired(max?: number) {
    return this.inner.sweepExpired(max);
  }

  inspect(accountIds: string[]) {
    return this.inner.inspect(accountIds);
  }

  async stats(): Promise<StoreStats> {
    return { ...(await this.inner.stats()), journaledCaptures: this.journal.uncommitted().length, owedMirrorResets: this.journal.owed().length };
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.recovery?.catch(() => undefined);
    await this.journal.close();
  }

  /** Replays the journal and the outbox into Redis; concurrent calls share one run. */
  recover(reason: 'start' | 'reconnect' | 'data-loss', lostShards?: number[]): Promise<void> {
    this.recovery ??= this.replay(reason, lostShards).finally(() => (this.recovery = undefined));
    return this.recovery;
  }

  private async replay(reason: 'start' | 'reconnect' | 'data-loss', lostShards?: number[]): Promise<void> {
    const { log } = this.options;
    const lost = lostShards ?? (await this.inner.checkMarkers());
    await this.forgetCommitted();
    const captures = this.journal.uncommitted();
    if (lost.length > 0) {
      log.error({ shards: lost, reason }, 'Redis lost its data: replaying the capture journal and resetting mirrors');
    }
    const touched = new Set(this.journal.owed());
    for (let i = 0; i < captures.length; i += CHUNK) {
      await Promise.all(captures.slice(i, i + CHUNK).map(({ holdId, settlement }) => this.inner.capture(holdId, settlement)));
    }
    for (const { settlement } of captures) touched.add(settlement.accountId);
    // A mirror loaded before a replayed capture may count a capture Postgres already had twice:
    // reset them all; the next use loads Postgres minus what is still queued.
    for (const accountId of touched) {
      await this.inner.invalidate(accountId);
      await this.journal.resetDone(accountId);
    }
    if (captures.length > 0 || touched.size > 0) log.info({ reason, replayed: captures.length, mirrorsReset: touched.size }, 'capture journal replayed into Redis');
    this.recovered = true;
  }

  /** Drops from the journal what Postgres has; a no-op while Postgres is unreachable. */
  private async forgetCommitted(): Promise<void> {
    const ids = this.journal.uncommitted().map((c) => c.settlement.requestId);
    for (let i = 0; i < ids.length; i += CHUNK) {
      let done: Set<string>;
      try {
        done = await this.options.committed(ids.slice(i, i + CHUNK));
      } catch {
        return; // Postgres is away: keep everything, replaying is harmless
      }
      await this.journal.committed([...done]);
    }
  }

  private async check(): Promise<void> {
    if (this.checking || this.recovery) return;
    this.checking = true;
    try {
      await this.forgetCommitted();
      if (!this.recovered) return await this.recover('reconnect');
      const lost = await this.inner.checkMarkers();
      if (lost.length > 0) await this.recover('data-loss', lost);
    } catch {
      // Redis is away: the 'ready' event or the next check recovers
    } finally {
      this.checking = false;
    }
  }
}
