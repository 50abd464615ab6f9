// Idempotency-Key for /v1 requests: a retry with the same key and body gets the stored response and is
// not billed again; the same key with another body is refused; a retry while the first is running waits
// its turn (409). Keys are scoped per account and kept 24 hours, like Stripe's.
//
// The "in progress" marker lives as long as its request: it is created with the hold's lifetime and
// extended with the hold while the request runs (src/billing/metered-call/inflight.ts), so a crashed
// request frees its key soon after its hold expires, and a long one never loses it.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  bodyBase64: string;
}

/** A completed request whose answer was not kept (too large): a retry learns it was billed, not the answer. */
export interface UnstoredResponse {
  notStored: true;
  requestId: string;
}

export type Completion = StoredResponse | UnstoredResponse;

export type IdempotencyStart =
  | { state: 'new' }
  | { state: 'replay'; response: Completion }
  | { state: 'in_progress' }
  | { state: 'mismatch' };

export interface IdempotencyStore {
  /** Claims the key for a new request (marker kept `pendingSeconds`), or tells what holds it. */
  start(accountId: string, key: string, fingerprint: string, pendingSeconds: number): Promise<IdempotencyStart>;
  complete(accountId: string, key: string, fingerprint: string, completion: Completion): Promise<void>;
  /** The first attempt failed without billing: let a retry run. */
  abandon(accountId: string, key: string): Promise<void>;
  /** The first attempt is still running: keep its "in progress" marker alive `pendingSeconds` more. */
  extend(accountId: string, key: string, pendingSeconds: number): Promise<void>;
}

const KEEP_SECONDS = 24 * 3600;

interface Entry {
  fingerprint: string;
  response?: Completion;
}

export const fingerprintOf = (body: string) => createHash('sha256').update(body).digest('base64url');

export const isStored = (completion: Completion): completion is StoredResponse => !('notStored' in completion);

function interpret(entry: Entry, fingerprint: string): IdempotencyStart {
  if (entry.fingerprint !== fingerprint) return { state: 'mismatch' };
  return entry.response ? { state: 'replay', response: entry.response } : { state: 'in_progress' };
}

// Extends only a marker that is still pending: a completed entry keeps its 24 hours.
const EXTEND_PENDING = `
local raw = redis.call('GET', KEYS[1])
if not raw or string.find(raw, '"response"', 1, true) then return 0 end
return redis.call('EXPIRE', KEYS[1], ARGV[1])
`;

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('tokengateIdempotencyExtend', { lua: EXTEND_PENDING, numberOfKeys: 1 });
  }

  private keyOf(accountId: string, key: string) {
    return `${this.prefix}{acct:${accountId}}:idem:${createHash('sha256').update(key).digest('base64url')}`;
  }

  async start(accountId: string, key: string, fingerprint: string, pendingSeconds: number): Promise<IdempotencyStart> {
    const redisKey = this.keyOf(accountId, key);
    const created = await this.redis.set(redisKey, JSON.stringify({ fingerprint }), 'EX', pendingSeconds, 'NX');
    if (created) return { state: 'new' };
    const raw = await this.redis.get(redisKey);
    // Gone between the two calls (abandoned or expired): treat as in progress; the client retries.
    return raw ? interpret(JSON.parse(raw) as Entry, fingerprint) : { state: 'in_progress' };
  }

  async complete(accountId: string, key: string, fingerprint: string, response: Completion): Promise<void> {
    await this.redis.set(this.keyOf(accountId, key), JSON.stringify({ fingerprint, response }), 'EX', KEEP_SECONDS);
  }

  async abandon(accountId: string, key: string): Promise<void> {
    await this.redis.del(this.keyOf(accountId, key));
  }

  async extend(accountId: string, key: string, pendingSeconds: number): Promise<void> {
    const extend = (this.redis as unknown as { tokengateIdempotencyExtend(key: string, seconds: number): Promise<unknown> }).tokengateIdempotencyExtend;
    await extend.call(this.redis, this.keyOf(accountId, key), pendingSeconds);
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry & { expiresAt: number }>();

  constructor(private readonly now = () => Date.now()) {}

  async start(accountId: string, key: string, fingerprint: string, pendingSeconds: number): Promise<IdempotencyStart> {
    const id = `${accountId}\u0000${key}`;
    const entry = this.entries.get(id);
    if (entry && entry.expiresAt > this.now()) return interpret(entry, fingerprint);
    this.sweep();
    this.entries.set(id, { fingerprint, expiresAt: this.now() + pendingSeconds * 1000 });
    return { state: 'new' };
  }

  async complete(accountId: string, key: string, fingerprint: string, response: Completion): Promise<void> {
    this.entries.set(`${accountId}\u0000${key}`, { fingerprint, response, expiresAt: this.now() + KEEP_SECONDS * 1000 });
  }

  async abandon(accountId: string, key: string): Promise<void> {
    this.entries.delete(`${accountId}\u0000${key}`);
  }

  async extend(accountId: string, key: string, pendingSeconds: number): Promise<void> {
    const entry = this.entries.get(`${accountId}\u0000${key}`);
    if (entry && !entry.response && entry.expiresAt > this.now()) entry.expiresAt = this.now() + pendingSeconds * 1000;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(id);
  }
}
