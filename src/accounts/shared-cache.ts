// What gateway instances share about keys, accounts and settings, beside Postgres:
// - invalidations over Redis pub/sub, so a revocation, a suspension or a settings change applies on
//   every instance within moments instead of after the local cache's TTL;
// - snapshots of the last values read from Postgres, so an instance that has not cached a key (or
//   restarted) can still answer while Postgres is unreachable.
// Without Redis (one instance) invalidations are delivered in process and there are no snapshots.
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export type Invalidation =
  | { kind: 'key'; keyHash: string }
  | { kind: 'account'; accountId: string }
  | { kind: 'settings' }
  /** Messages may have been missed (the subscription was down): drop everything. */
  | { kind: 'all' };

export interface SharedCache {
  /** Delivers the invalidation to every instance, this one included (here synchronously, first). */
  publish(message: Invalidation): Promise<void>;
  onInvalidate(handler: (message: Invalidation) => void): void;
  getSnapshot(name: string): Promise<string | null>;
  /** Stores a snapshot; `sticky` ones (a revoked key) are never replaced by a non-sticky one. */
  putSnapshot(name: string, value: string, options?: { sticky?: boolean }): Promise<void>;
  close(): Promise<void>;
}

const SNAPSHOT_TTL_MS = 7 * 24 * 3600 * 1000;

// KEYS: snapshot, its sticky marker (same hash tag). ARGV: value, sticky (1/0), ttlMs. A sticky value
// (a revocation) is never replaced by a non-sticky one, so a stale read racing a revocation cannot
// bring the key back.
const putSnapshotScript = `
if ARGV[2] == '0' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
return 1
`;

type PutSnapshot = (key: string, stickyKey: string, value: string, sticky: string, ttlMs: number) => Promise<unknown>;

class Handlers {
  private readonly handlers: Array<(message: Invalidation) => void> = [];

  constructor(private readonly log: Logger) {}

  add(handler: (message: Invalidation) => void): void {
    this.handlers.push(handler);
  }

  deliver(message: Invalidation): void {
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (error) {
        this.log.error({ err: error }, 'a cache invalidation handler failed');
      }
    }
  }
}

export class LocalSharedCache implements SharedCache {
  private readonly handlers: Handlers;

  constructor(log: Logger) {
    this.handlers = new Handlers(log);
  }

  async publish(message: Invalidation): Promise<void> {
    this.handlers.deliver(message);
  }

  onInvalidate(handler: (message: Invalidation) => void): void {
    this.handlers.add(handler);
  }

  async getSnapshot(): Promise<string | null> {
    return null;
  }

  async putSnapshot(): Promise<void> {}

  async close(): Promise<void> {}
}

export class RedisSharedCache implements SharedCache {
  private readonly handlers: Handlers;
  private readonly channel: string;
  private readonly subscriber: Redis;
  private readonly put: PutSnapshot;
  private lost = false;
  private subscribed = false;

  /** The caller owns `redis`; the subscriber connection is this object's own. */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.handlers = new Handlers(log);
    this.channel = `${prefix}invalidate`;
    redis.defineCommand('tokengatePutSnapshot', { numberOfKeys: 2, lua: putSnapshotScript });
    this.put = (redis as unknown as { tokengatePutSnapshot: PutSnapshot }).tokengatePutSnapshot.bind(redis);
    this.subscriber = redis.duplicate();
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.channel) this.receive(text);
    });
    this.subscriber.on('error', (error: Error) => {
      if (!this.lost) log.warn({ err: error }, 'cache invalidation subscription lost; local caches fall back to their TTL');
      this.lost = true;
    });
    this.subscriber.on('ready', () => {
      // Invalidations sent while we were away are gone: start from a clean cache.
      if (this.lost) this.handlers.deliver({ kind: 'all' });
      this.lost = false;
      // ioredis resubscribes by itself after a reconnect, but only to channels it once subscribed.
      if (!this.subscribed) void this.start();
    });
  }

  /**
   * Resolves once this instance hears invalidations (call before serving), or once subscribing failed:
   * Redis down at start must not stop the gateway; it subscribes when Redis comes back.
   */
  async start(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
    } catch (error) {
      if (!this.lost) this.log.warn({ err: error }, 'could not subscribe to cache invalidations yet; retrying when Redis is back');
      this.lost = true;
    }
  }

  async publish(message: Invalidation): Promise<void> {
    this.handlers.deliver(message);
    try {
      await this.redis.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      this.log.warn({ err: error, kind: message.kind }, 'could not publish a cache invalidation; other instances apply it within their cache TTL');
    }
  }

  onInvalidate(handler: (message: Invalidation) => void): void {
    this.handlers.add(handler);
  }

  async getSnapshot(name: string): Promise<string | null> {
    return this.redis.get(this.snapshotKey(name));
  }

  async putSnapshot(name: string, value: string, options: { sticky?: boolean } = {}): Promise<void> {
    const key = this.snapshotKey(name);
    await this.put(key, `${key}:sticky`, value, options.sticky ? '1' : '0', SNAPSHOT_TTL_MS);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }

  // Callers name snapshots with their hash tag ({key:HASH}, {acct:ID}) so each lives in one slot.
  private snapshotKey(name: string): string {
    return `${this.prefix}${name}`;
  }

  private receive(text: string): void {
    let message: Invalidation;
    try {
      message = JSON.parse(text) as Invalidation;
    } catch (error) {
      this.log.warn({ err: error }, 'ignored a malformed cache invalidation');
      return;
    }
    this.handlers.deliver(message);
  }
}
