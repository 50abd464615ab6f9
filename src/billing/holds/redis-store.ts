// HoldStore on Redis: every step is one Lua script (one round trip, atomic), so any number of gateway
// instances share balances and holds. Settlements wait in a Redis Stream read through a consumer group.
//
// Keys, all but the stream tagged with the account so one script touches one Cluster slot:
//   {prefix}{acct:ID}:bal      mirror balance = Postgres balance - pending
//   {prefix}{acct:ID}:holds    zset holdId -> expiry (ms)
//   {prefix}{acct:ID}:hamt     hash holdId -> held amount
//   {prefix}{acct:ID}:held     sum of open holds
//   {prefix}{acct:ID}:pending  captured, not yet settled into Postgres
//   {prefix}{acct:ID}:gen      bumped whenever Postgres may have moved under the mirror
//   {prefix}{acct:ID}:cseq     captures so far; :lseq is its value when the mirror was loaded
//   {prefix}{acct:ID}:cap:HOLD marker that HOLD was captured (1 day), so a retry charges once
//   {prefix}settle             settlement stream (another slot: see scripts.ts on Cluster)
//
// Expiry uses the gateway's clock (options.now), not Redis time: instances should run NTP.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type {
  BalanceLoader,
  BalanceView,
  HoldStore,
  QueuedSettlement,
  ReserveRequest,
  ReserveResult,
  Settlement,
} from './types.js';
import { CAPTURE_MARKER_TTL_MS, checkInteger, checkReserveRequest, checkTokens, MirrorLoader, MISSING, type Missing } from './mirror.js';
import {
  ackScript,
  captureScript,
  claimScript,
  extendScript,
  invalidateScript,
  loadScript,
  reserveScript,
  viewScript,
  voidScript,
} from './scripts.js';

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

// ioredis adds these methods at runtime through defineCommand; each takes its keys, then its ARGV.
type ScriptCall = (...keysThenArgs: Array<string | number>) => Promise<unknown>;
const scripts = {
  tokengateHoldReserve: { lua: reserveScript, numberOfKeys: 4 },
  tokengateHoldLoad: { lua: loadScript, numberOfKeys: 5 },
  tokengateHoldCapture: { lua: captureScript, numberOfKeys: 8 },
  tokengateHoldVoid: { lua: voidScript, numberOfKeys: 3 },
  tokengateHoldExtend: { lua: extendScript, numberOfKeys: 3 },
  tokengateHoldView: { lua: viewScript, numberOfKeys: 4 },
  tokengateHoldInvalidate: { lua: invalidateScript, numberOfKeys: 2 },
  tokengateHoldAck: { lua: ackScript, numberOfKeys: 5 },
  tokengateHoldClaim: { lua: claimScript, numberOfKeys: 1 },
} as const;
type ScriptCommands = Record<keyof typeof scripts, ScriptCall>;


export class RedisHoldStore implements HoldStore {
  private readonly commands: ScriptCommands;
  private readonly now: () => number;
  private readonly streamKey: string;
  private readonly consumer: string;
  private readonly claimIdleMs: number;
  private readonly mirror = new MirrorLoader((accountId) => this.loadOnce(accountId));
  private group: Promise<void> | undefined;

  /** The store does not own the client: whoever created it quits it. */
  constructor(
    private readonly redis: Redis,
    private readonly options: RedisHoldStoreOptions,
  ) {
    for (const [name, definition] of Object.entries(scripts)) redis.defineCommand(name, definition);
    this.commands = redis as unknown as ScriptCommands;
    this.now = options.now ?? Date.now;
    this.streamKey = `${options.prefix}settle`;
    this.consumer = options.consumer ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    checkReserveRequest(request);
    return this.mirror.run(request.accountId, () => this.tryReserve(request));
  }

  async capture(holdId: string, settlement: Settlement): Promise<{ balanceTokens: number }> {
    checkTokens('costTokens', settlement.costTokens);
    const k = this.keys(settlement.accountId);
    const reply = await this.commands.tokengateHoldCapture(
      k.bal, k.holds, k.hamt, k.held, k.pending, k.cseq, `${k.base}:cap:${holdId}`, this.streamKey,
      holdId, settlement.costTokens, this.now(), CAPTURE_MARKER_TTL_MS, settlement.accountId,
      JSON.stringify(settlement),
    );
    const [found, balance] = intArray(reply, 'capture');
    if (found === 1 && balance !== undefined) return { balanceTokens: balance };
    // The charge is recorded in pending; loading the mirror tells us the balance it leaves.
    return { balanceTokens: (await this.view(settlement.accountId)).balanceTokens };
  }

  async extend(accountId: string, holdId: string, ttlSeconds: number): Promise<boolean> {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`ttlSeconds must be positive, got ${ttlSeconds}`);
    const k = this.keys(accountId);
    const now = this.now();
    const reply = await this.commands.tokengateHoldExtend(k.holds, k.hamt, k.held, holdId, now, now + ttlSeconds * 1000);
    return Number(reply) === 1;
  }

  async void(accountId: string, holdId: string): Promise<void> {
    const k = this.keys(accountId);
    await this.commands.tokengateHoldVoid(k.holds, k.hamt, k.held, holdId, this.now());
  }

  async view(accountId: string): Promise<BalanceView> {
    return this.mirror.run(accountId, () => this.tryView(accountId));
  }

  async invalidate(accountId: string): Promise<void> {
    const k = this.keys(accountId);
    await this.commands.tokengateHoldInvalidate(k.gen, k.bal);
  }

  async claimSettlements(max: number): Promise<QueuedSettlement[]> {
    if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`max must be a positive integer, got ${max}`);
    try {
      return await this.claim(max);
    } catch (error) {
      // The stream and its group vanish when Redis restarts without persistence: create them again.
      if (!(error instanceof Error) || !error.message.startsWith('NOGROUP')) throw error;
      this.group = undefined;
      return this.claim(max);
    }
  }

  async ackSettlements(entries: QueuedSettlement[]): Promise<void> {
    // One script per account (its keys share one slot), each acking all of that account's entries;
    // the calls go out together and ioredis pipelines them on the socket.
    const byAccount = new Map<string, Array<string | number>>();
    for (const { id, settlement } of entries) {
      let idsAndCosts = byAccount.get(settlement.accountId);
      if (!idsAndCosts) byAccount.set(settlement.accountId, (idsAndCosts = []));
      idsAndCosts.push(id, settlement.costTokens);
    }
    const calls: Array<Promise<unknown>> = [];
    for (const [accountId, idsAndCosts] of byAccount) {
      const k = this.keys(accountId);
      // Bounded calls: a script blocks Redis while it runs.
      for (let i = 0; i < idsAndCosts.length; i += 2 * ACK_CHUNK) {
        calls.push(
          this.commands.tokengateHoldAck(
            this.streamKey, k.pending, k.gen, k.bal, k.lseq, GROUP, ...idsAndCosts.slice(i, i + 2 * ACK_CHUNK),
          ),
        );
      }
    }
    await Promise.all(calls);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    // Nothing to release: the Redis client belongs to the caller.
  }

  private keys(accountId: string) {
    const base = `${this.options.prefix}{acct:${accountId}}`;
    return {
      base,
      bal: `${base}:bal`,
      holds: `${base}:holds`,
      hamt: `${base}:hamt`,
      held: `${base}:held`,
      pending: `${base}:pending`,
      gen: `${base}:gen`,
      cseq: `${base}:cseq`,
      lseq: `${base}:lseq`,
    };
  }

  private async tryReserve(request: ReserveRequest): Promise<ReserveResult | Missing> {
    const k = this.keys(request.accountId);
    const now = this.now();
    const reply = await this.commands.tokengateHoldReserve(
      k.bal, k.holds, k.hamt, k.held,
      request.holdId, request.amountTokens, request.minimumTokens, now, now + request.ttlSeconds * 1000,
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
    const k = this.keys(accountId);
    const [found, balance, held] = intArray(
      await this.commands.tokengateHoldView(k.bal, k.holds, k.hamt, k.held, this.now()),
      'view',
    );
    if (found === 0) return MISSING;
    if (balance === undefined || held === undefined) throw new Error('view script returned a short reply');
    return { balanceTokens: balance, heldTokens: held };
  }

  private async loadOnce(accountId: string): Promise<void> {
    const k = this.keys(accountId);
    // gen is read before Postgres: if it moves before the load lands, our Postgres read may be stale.
    const gen = (await this.redis.get(k.gen)) ?? '0';
    const balance = await this.options.loadBalance(accountId);
    checkInteger('loaded balance', balance);
    await this.commands.tokengateHoldLoad(k.bal, k.gen, k.pending, k.cseq, k.lseq, gen, balance);
  }

  private async claim(max: number): Promise<QueuedSettlement[]> {
    await this.ensureGroup();
    const reply = await this.commands.tokengateHoldClaim(this.streamKey, GROUP, this.consumer, max, this.claimIdleMs);
    const entries: QueuedSettlement[] = [];
    const deleted: string[] = [];
    for (const [id, fields] of streamEntries(reply)) {
      const json = fields ? fieldValue(fields, 's') : undefined;
      if (json === undefined) deleted.push(id);
      else entries.push({ id, settlement: parseSettlement(json, id) });
    }
    // An entry trimmed from the stream while pending can never be settled; stop redelivering it.
    if (deleted.length > 0) await this.redis.xack(this.streamKey, GROUP, ...deleted);
    return entries;
  }

  private ensureGroup(): Promise<void> {
    this.group ??= this.redis
      .xgroup('CREATE', this.streamKey, GROUP, '0', 'MKSTREAM')
      .then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof Error && error.message.startsWith('BUSYGROUP')) return;
          this.group = undefined;
          throw error;
        },
      );
    return this.group;
  }
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
