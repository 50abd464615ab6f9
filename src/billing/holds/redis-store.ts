// HoldStore on Redis: every step is one Lua script (one round trip, atomic), so any number of gateway
// instances share balances and holds. Settlements wait in per-shard Redis Streams read through a
// consumer group; each script touches one shard's slot, so Redis Cluster works (see redis-keys.ts).
//
// Expiry uses the gateway's clock (options.now), not Redis time: instances should run NTP.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
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
import { accountBase, allShards, shardBase, shardOf } from './redis-keys.js';
import {
  ackScript,
  captureScript,
  claimScript,
  extendScript,
  inspectScript,
  invalidateScript,
  loadScript,
  markerScript,
  reserveScript,
  shardStatsScript,
  sweepScript,
  viewScript,
  voidScript,
} from './scripts.js';

/** A single Redis server or a Redis Cluster: the store uses only what both offer. */
export type RedisClient = Redis | Cluster;

export interface RedisHoldStoreOptions {
  prefix: string;
  loadBalance: BalanceLoader;
  now?: () => number;
  /** Entries another consumer claimed and left this long are taken over (it probably died). */
  claimIdleMs?: number;
  /** Consumer name in the settlement group; unique per process by default. */
  consumer?: string;
}

const GROUP = 'settlers';
const ACK_CHUNK = 500; // entries per ack script call
const SWEEP_CHUNK = 200; // holds per sweep script call

// ioredis adds these methods at runtime through defineCommand; each takes its keys, then its ARGV.
type ScriptCall = (...keysThenArgs: Array<string | number>) => Promise<unknown>;
const scripts = {
  tokengateHoldReserve: { lua: reserveScript, numberOfKeys: 2 },
  tokengateHoldLoad: { lua: loadScript, numberOfKeys: 1 },
  tokengateHoldCapture: { lua: captureScript, numberOfKeys: 2 },
  tokengateHoldVoid: { lua: voidScript, numberOfKeys: 2 },
  tokengateHoldExtend: { lua: extendScript, numberOfKeys: 2 },
  tokengateHoldView: { lua: viewScript, numberOfKeys: 2 },
  tokengateHoldInspect: { lua: inspectScript, numberOfKeys: 1 },
  tokengateHoldInvalidate: { lua: invalidateScript, numberOfKeys: 1 },
  tokengateHoldAck: { lua: ackScript, numberOfKeys: 2 },
  tokengateHoldClaim: { lua: claimScript, numberOfKeys: 1 },
  tokengateHoldSweep: { lua: sweepScript, numberOfKeys: 1 },
  tokengateHoldStats: { lua: shardStatsScript, numberOfKeys: 1 },
  tokengateHoldMarker: { lua: markerScript, numberOfKeys: 1 },
} as const;
type ScriptCommands = Record<keyof typeof scripts, ScriptCall>;

export class RedisHoldStore implements HoldStore {
  private readonly commands: ScriptCommands;
  private readonly now: () => number;
  private readonly consumer: string;
  private readonly claimIdleMs: number;
  private readonly mirror = new MirrorLoader((accountId) => this.loadOnce(accountId));
  private groups: Promise<void> | undefined;
  private nextShard = 0;
  private readonly markers = new Map<number, string>(); // marker value this instance last saw, per shard

  /** The store does not own the client: whoever created it quits it. */
  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisHoldStoreOptions,
  ) {
    for (const [name, definition] of Object.entries(scripts)) redis.defineCommand(name, definition);
    this.commands = redis as unknown as ScriptCommands;
    this.now = options.now ?? Date.now;
    this.consumer = options.consumer ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    checkReserveRequest(request);
    return this.mirror.run(request.accountId, () => this.tryReserve(request));
  }

  async capture(holdId: string, settlement: Settlement): Promise<{ balanceTokens: number }> {
    checkTokens('costTokens', settlement.costTokens);
    const { accountId } = settlement;
    const reply = await this.commands.tokengateHoldCapture(
      ...this.accountKeys(accountId),
      accountId, holdId, settlement.costTokens, this.now(), CAPTURE_MARKER_TTL_MS, JSON.stringify(settlement),
    );
    const [found, balance] = intArray(reply, 'capture');
    if (found === 1 && balance !== undefined) return { balanceTokens: balance };
    // The charge is recorded in pending; loading the mirror tells us the balance it leaves.
    return { balanceTokens: (await this.view(accountId)).balanceTokens };
  }

  async extend(accountId: string, holdId: string, ttlSeconds: number, progress?: Settlement): Promise<boolean> {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`ttlSeconds must be positive, got ${ttlSeconds}`);
    if (progress) checkProgress(accountId, progress);
    const now = this.now();
    const progressArgs = progress ? [progress.costTokens, JSON.stringify(progress)] : [];
    const reply = await this.commands.tokengateHoldExtend(
      ...this.accountKeys(accountId),
      accountId, holdId, now, now + ttlSeconds * 1000, CAPTURE_MARKER_TTL_MS, ...progressArgs,
    );
    return Number(reply) === 1;
  }

  async void(accountId: string, holdId: string): Promise<void> {
    await this.commands.tokengateHoldVoid(...this.accountKeys(accountId), accountId, holdId, this.now(), CAPTURE_MARKER_TTL_MS);
  }

  async view(accountId: string): Promise<BalanceView> {
    return this.mirror.run(accountId, () => this.tryView(accountId));
  }

  async invalidate(accountId: string): Promise<void> {
    await this.commands.tokengateHoldInvalidate(accountBase(this.options.prefix, accountId));
  }

  async claimSettlements(max: number): Promise<QueuedSettlement[]> {
    if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`max must be a positive integer, got ${max}`);
    try {
      return await this.claim(max);
    } catch (error) {
      // A stream and its group vanish when Redis restarts without persistence: create them again.
      if (!(error instanceof Error) || !error.message.includes('NOGROUP')) throw error;
      this.groups = undefined;
      return this.claim(max);
    }
  }

  async ackSettlements(entries: QueuedSettlement[]): Promise<void> {
    // One script per account (its keys and its shard's stream share one slot), each acking all of
    // that account's entries; the calls go out together and ioredis pipelines them on the socket.
    const byAccount = new Map<string, Array<string | number>>();
    for (const { id, settlement } of entries) {
      let idsAndCosts = byAccount.get(settlement.accountId);
      if (!idsAndCosts) byAccount.set(settlement.accountId, (idsAndCosts = []));
      idsAndCosts.push(id, settlement.costTokens);
    }
    const calls: Array<Promise<unknown>> = [];
    for (const [accountId, idsAndCosts] of byAccount) {
      // Bounded calls: a script blocks Redis while it runs.
      for (let i = 0; i < idsAndCosts.length; i += 2 * ACK_CHUNK) {
        calls.push(this.commands.tokengateHoldAck(...this.accountKeys(accountId), GROUP, ...idsAndCosts.slice(i, i + 2 * ACK_CHUNK)));
      }
    }
    await Promise.all(calls);
  }

  async sweepExpired(max = 1_000): Promise<SweepResult> {
    const total: SweepResult = { settled: 0, voided: 0 };
    await Promise.all(
      allShards().map(async (shard) => {
        for (let left = max; left > 0; left -= SWEEP_CHUNK) {
          const reply = await this.commands.tokengateHoldSweep(shardBase(this.options.prefix, shard), this.now(), CAPTURE_MARKER_TTL_MS, Math.min(left, SWEEP_CHUNK));
          const [settled = 0, voided = 0] = intArray(reply, 'sweep');
          total.settled += settled;
          total.voided += voided;
          if (settled + voided < Math.min(left, SWEEP_CHUNK)) return;
        }
      }),
    );
    return total;
  }

  async inspect(accountIds: string[]): Promise<Map<string, AccountInspection>> {
    const now = this.now();
    const replies = await Promise.all(
      accountIds.map((id) => this.commands.tokengateHoldInspect(accountBase(this.options.prefix, id), now)),
    );
    const result = new Map<string, AccountInspection>();
    accountIds.forEach((id, i) => {
      const [hasMirror, balance = 0, held = 0, pending = 0, openHolds = 0, expiredHolds = 0] = intArray(replies[i], 'inspect');
      result.set(id, { balanceTokens: hasMirror === 1 ? balance : null, heldTokens: held, pendingTokens: pending, openHolds, expiredHolds });
    });
    return result;
  }

  async stats(): Promise<StoreStats> {
    const now = this.now();
    const replies = await Promise.all(allShards().map((shard) => this.commands.tokengateHoldStats(shardBase(this.options.prefix, shard), now)));
    const stats: StoreStats = { queuedSettlements: 0, oldestQueuedAtMs: null, expiredHolds: 0 };
    for (const reply of replies) {
      const [queued = 0, oldest = 0, expired = 0] = intArray(reply, 'stats');
      stats.queuedSettlements += queued;
      stats.expiredHolds += expired;
      if (oldest > 0) stats.oldestQueuedAtMs = Math.min(stats.oldestQueuedAtMs ?? oldest, oldest);
    }
    return stats;
  }

  /**
   * Data-loss detection: every shard carries a marker whose value is written once, by whichever
   * instance finds it missing. Returns the shards whose marker is not the value this instance saw
   * last time (each instance notices a loss for itself, even when another rewrote the marker first).
   * The first call only learns the values.
   */
  async checkMarkers(): Promise<number[]> {
    const token = randomUUID();
    const values = await Promise.all(allShards().map((shard) => this.commands.tokengateHoldMarker(`${shardBase(this.options.prefix, shard)}:epoch`, token)));
    const changed: number[] = [];
    allShards().forEach((shard, i) => {
      const value = String(values[i]);
      const seen = this.markers.get(shard);
      if (seen !== undefined && seen !== value) changed.push(shard);
      this.markers.set(shard, value);
    });
    return changed;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    // Nothing to release: the Redis client belongs to the caller.
  }

  /** KEYS of every per-account script: the account's base and its shard's base (one slot). */
  private accountKeys(accountId: string): [string, string] {
    return [accountBase(this.options.prefix, accountId), shardBase(this.options.prefix, shardOf(accountId))];
  }

  private async tryReserve(request: ReserveRequest): Promise<ReserveResult | Missing> {
    const now = this.now();
    const reply = await this.commands.tokengateHoldReserve(
      ...this.accountKeys(request.accountId),
      request.accountId, request.holdId, request.amountTokens, request.minimumTokens, now, now + request.ttlSeconds * 1000, CAPTURE_MARKER_TTL_MS,
    );
    const [status, first, second] = intArray(reply, 'reserve');
    if (status === 2) return MISSING;
    if (status === 0 && first !== undefined) return { ok: false, availableTokens: first };
    if (status === 1 && first !== undefined && second !== undefined) {
      return { ok: true, heldTokens: first, availableTokens: second };
    }
    throw new Error(`reserve script returned an unexpected reply: ${JSON.stringify(reply)}`);
  }

  private async tryView(accountId: string): Promise<BalanceView | Missing> {
    const [found, balance, held] = intArray(
      await this.commands.tokengateHoldView(...this.accountKeys(accountId), accountId, this.now(), CAPTURE_MARKER_TTL_MS),
      'view',
    );
    if (found === 0) return MISSING;
    if (balance === undefined || held === undefined) throw new Error('view script returned a short reply');
    return { balanceTokens: balance, heldTokens: held };
  }

  private async loadOnce(accountId: string): Promise<void> {
    const base = accountBase(this.options.prefix, accountId);
    // gen is read before Postgres: if it moves before the load lands, our Postgres read may be stale.
    const gen = (await this.redis.get(`${base}:gen`)) ?? '0';
    const balance = await this.options.loadBalance(accountId);
    checkInteger('loaded balance', balance);
    await this.commands.tokengateHoldLoad(base, gen, balance);
  }

  /**
   * Claims from every shard at once (one script each, pipelined) and returns the oldest `max`; what a
   * shard claimed beyond that stays pending for this consumer and comes back first next time.
   */
  private async claim(max: number): Promise<QueuedSettlement[]> {
    await this.ensureGroups();
    const start = this.nextShard;
    this.nextShard = (this.nextShard + 1) % allShards().length;
    const shards = allShards().map((_, i) => (start + i) % allShards().length);
    const replies = await Promise.all(
      shards.map((shard) => this.commands.tokengateHoldClaim(shardBase(this.options.prefix, shard), GROUP, this.consumer, max, this.claimIdleMs)),
    );
    const entries: QueuedSettlement[] = [];
    const deleted: Array<Promise<unknown>> = [];
    replies.forEach((reply, i) => {
      const stream = `${shardBase(this.options.prefix, shards[i]!)}:settle`;
      const gone: string[] = [];
      for (const [id, fields] of streamEntries(reply)) {
        const json = fields ? fieldValue(fields, 's') : undefined;
        if (json === undefined) gone.push(id);
        else entries.push({ id, settlement: parseSettlement(json, id) });
      }
      // An entry trimmed from the stream while pending can never be settled; stop redelivering it.
      if (gone.length > 0) deleted.push(this.redis.xack(stream, GROUP, ...gone));
    });
    await Promise.all(deleted);
    return entries.sort((a, b) => compareEntryIds(a.id, b.id)).slice(0, max);
  }

  private ensureGroups(): Promise<void> {
    this.groups ??= Promise.all(
      allShards().map((shard) =>
        this.redis.xgroup('CREATE', `${shardBase(this.options.prefix, shard)}:settle`, GROUP, '0', 'MKSTREAM').then(
          () => undefined,
          (error: unknown) => {
            if (error instanceof Error && error.message.includes('BUSYGROUP')) return;
            throw error;
          },
        ),
      ),
    ).then(
      () => undefined,
      (error: unknown) => {
        this.groups = undefined;
        throw error;
      },
    );
    return this.groups;
  }
}

/** Progress is a settlement of the same account, for what was delivered so far. */
function checkProgress(accountId: string, progress: Settlement): void {
  checkTokens('progress costTokens', progress.costTokens);
  if (progress.accountId !== accountId) throw new RangeError(`progress belongs to account ${progress.accountId}, not ${accountId}`);
}

/** Stream ids are "ms-seq": oldest first across shards (ties between shards in one ms are arbitrary). */
function compareEntryIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/** Scripts reply with arrays of integers; anything else means the script and this code disagree. */
function intArray(reply: unknown, script: string): number[] {
  if (!Array.isArray(reply)) throw new Error(`${script} script returned ${JSON.stringify(reply)}`);
  return reply.map((value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new Error(`${script} script returned a non-integer: ${String(value)}`);
    return n;
  });
}

type StreamEntry = [id: string, fields: string[] | null];

/** The claim script replies with a flat list of [id, fields], fields null for a deleted entry. */
function streamEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) throw new Error(`claim script returned ${JSON.stringify(reply)}`);
  const entries: StreamEntry[] = [];
  for (const entry of reply) {
    if (Array.isArray(entry) && typeof entry[0] === 'string') {
      const fields: unknown = entry[1];
      entries.push([entry[0], Array.isArray(fields) ? fields.map(String) : null]);
    }
  }
  return entries;
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function parseSettlement(json: string, id: string): Settlement {
  const value: unknown = JSON.parse(json);
  if (
    typeof value !== 'object' || value === null ||
    !('accountId' in value) || typeof value.accountId !== 'string' ||
    !('costTokens' in value) || !Number.isSafeInteger(value.costTokens)
  ) {
    throw new Error(`settlement entry ${id} is not a settlement: ${json.slice(0, 200)}`);
  }
  return value as Settlement;
}
