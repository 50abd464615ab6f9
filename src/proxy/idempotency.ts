// Idempotency-Key for /v1 requests: a retry with the same key and body gets the stored response and is
// not billed again; the same key with another body is refused; a retry while the first is running waits
// its turn (409). Keys are scoped per account and kept 24 hours, like Stripe's.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  bodyBase64: string;
}

export type IdempotencyStart =
  | { state: 'new' }
  | { state: 'replay'; response: StoredResponse }
  | { state: 'in_progress' }
  | { state: 'mismatch' };

export interface IdempotencyStore {
  start(accountId: string, key: string, fingerprint: string): Promise<IdempotencyStart>;
  complete(accountId: string, key: string, fingerprint: string, response: StoredResponse): Promise<void>;
  /** The first attempt failed without billing: let a retry run. */
  abandon(accountId: string, key: string): Promise<void>;
  /** The first attempt is still running (a long stream): keep its "in progress" marker alive. */
  extend(accountId: string, key: string): Promise<void>;
}

const KEEP_SECONDS = 24 * 3600;
// A pending marker outlives any request (upstream timeout) but not a crash by long.
const PENDING_SECONDS = 15 * 60;

interface Entry {
  fingerprint: string;
  response?: StoredResponse;
}

export const fingerprintOf = (body: string) => createHash('sha256').update(body).digest('base64url');

function interpret(entry: Entry, fingerprint: string): IdempotencyStart {
  if (entry.fingerprint !== fingerprint) return { state: 'mismatch' };
  return entry.response ? { state: 'replay', response: entry.response } : { state: 'in_progress' };
}

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private keyOf(accountId: string, key: string) {
    return `${this.prefix}{acct:${accountId}}:idem:${createHash('sha256').update(key).digest('base64url')}`;
  }

  async start(accountId: string, key: string, fingerprint: string): Promise<IdempotencyStart> {
    const redisKey = this.keyOf(accountId, key);
    const created = await this.redis.set(redisKey, JSON.stringify({ fingerprint }), 'EX', PENDING_SECONDS, 'NX');
    if (created) return { state: 'new' };
    const raw = await this.redis.get(redisKey);
    // Gone between the two calls (abandoned or expired): treat as in progress; the client retries.
    return raw ? interpret(JSON.parse(raw) as Entry, fingerprint) : { state: 'in_progress' };
  }

  async complete(accountId: string, key: string, fingerprint: string, response: StoredResponse): Promise<void> {
    await this.redis.set(this.keyOf(accountId, key), JSON.stringify({ fingerprint, response }), 'EX', KEEP_SECONDS);
  }

  async abandon(accountId: string, key: string): Promise<void> {
    await this.redis.del(this.keyOf(accountId, key));
  }

  async extend(accountId: string, key: string): Promise<void> {
    await this.redis.expire(this.keyOf(accountId, key), PENDING_SECONDS);
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry & { expiresAt: number }>();

  constructor(private readonly now = () => Date.now()) {}

  async start(accountId: string, key: string, fingerprint: string): Promise<IdempotencyStart> {
    const id = `${accountId}\u0000${key}`;
    const entry = this.entries.get(id);
    if (entry && entry.expiresAt > this.now()) return interpret(entry, fingerprint);
    this.sweep();
    this.entries.set(id, { fingerprint, expiresAt: this.now() + PENDING_SECONDS * 1000 });
    return { state: 'new' };
  }

  async complete(accountId: string, key: string, fingerprint: string, response: StoredResponse): Promise<void> {
    this.entries.set(`${accountId}\u0000${key}`, { fingerprint, response, expiresAt: this.now() + KEEP_SECONDS * 1000 });
  }

  async abandon(accountId: string, key: string): Promise<void> {
    this.entries.delete(`${accountId}\u0000${key}`);
  }

  async extend(accountId: string, key: string): Promise<void> {
    const entry = this.entries.get(`${accountId}\u0000${key}`);
    if (entry && !entry.response) entry.expiresAt = this.now() + PENDING_SECONDS * 1000;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(id);
  }
}
