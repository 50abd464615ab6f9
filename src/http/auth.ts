// Bearer-key authentication (SPEC 3.1): sha256 lookup, cached briefly, revoked/expired keys -> 401.
import { eq } from 'drizzle-orm';
import { hashApiKey, KEY_PATTERN, type ApiKeyRow } from '../accounts/api-keys.js';
import { accountStatusSnapshotName, keySnapshotName, parseKeyRecord, serializeKeyRecord, type KeyRecord } from '../accounts/key-snapshot.js';
import type { Invalidation, SharedCache } from '../accounts/shared-cache.js';
import type { Db } from '../db/client.js';
import { DatabaseUnavailableError, type DatabaseReadGuard } from '../db/read-guard.js';
import { accounts, apiKeys } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { AuthContext } from './context.js';
import { ApiError, forbidden, unauthorized } from './errors.js';

interface CachedKey extends KeyRecord {
  loadedAt: number;
}

const LAST_USED_EVERY_MS = 60_000;

const keysUnavailable = () =>
  new ApiError(503, 'service_unavailable', 'Keys cannot be checked right now (the database is unavailable); retry shortly.', 'api_error', null, { 'retry-after': '1' });

export interface KeyAuthenticatorOptions {
  db: Db;
  log: Logger;
  guard: DatabaseReadGuard;
  shared: SharedCache;
  /** How long a key lookup is reused; revocations reach every instance sooner, by invalidation. */
  ttlMs?: number;
  now?: () => number;
}

/**
 * Resolves keys to their rows. Each instance caches a lookup for ttlMs; revocations and suspensions
 * are published to every instance (SharedCache), so the TTL only matters if an invalidation is lost.
 * When Postgres errors or is slow, keys are answered from the shared snapshot of their last read, or
 * from this instance's last read; a revocation or suspension still wins (it is written to the
 * snapshot before it is published, and a revoked snapshot is never replaced by a stale live one).
 */
export class KeyAuthenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly loading = new Map<string, Promise<KeyRecord | undefined>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  // Bumped by every invalidation: a lookup that started before one does not cache what it read.
  private generation = 0;
  private snapshotWriteFailing = false;

  constructor(private readonly options: KeyAuthenticatorOptions) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.now = options.now ?? Date.now;
    options.shared.onInvalidate((message) => this.apply(message));
  }

  async authenticate(header: string | undefined): Promise<AuthContext> {
    if (!header) throw unauthorized("Missing API key. Send it as 'Authorization: Bearer tg-...'.");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !KEY_PATTERN.test(match[1]!)) throw unauthorized("Malformed API key. Expected 'Authorization: Bearer tg-...'.");
    const hash = hashApiKey(match[1]!);
    const found = await this.lookup(hash);
    if (!found) throw unauthorized('Invalid API key.');
    const { key, accountStatus } = found;
    if (key.revokedAt) throw unauthorized('This API key has been revoked.');
    if (key.expiresAt && key.expiresAt.getTime() <= this.now()) throw unauthorized('This API key has expired.');
    if (accountStatus !== 'active') throw forbidden('This account is suspended; ask an admin to reactivate it.');
    this.touch(key.id);
    return { key, accountId: key.accountId };
  }

  /** Call after the revocation committed: every instance refuses the key from now on. */
  async keyRevoked(row: ApiKeyRow, accountStatus: string): Promise<void> {
    const name = keySnapshotName(row.keyHash);
    await this.options.shared
      .putSnapshot(name, serializeKeyRecord({ key: row, accountStatus }), { sticky: true })
      .catch((error: unknown) => this.options.log.warn({ err: error, keyId: row.id }, 'could not record a revocation in the shared key snapshot'));
    await this.options.shared.publish({ kind: 'key', keyHash: row.keyHash });
  }

  /**
   * Call after a status change committed: applies to every key of the account, on every instance.
   * Without `status` the committed status is read back from Postgres.
   */
  async accountStatusChanged(accountId: string, status?: string): Promise<void> {
    try {
      const [row] = status === undefined ? await this.options.db.select({ status: accounts.status }).from(accounts).where(eq(accounts.id, accountId)) : [{ status }];
      if (row) await this.options.shared.putSnapshot(accountStatusSnapshotName(accountId), row.status);
    } catch (error) {
      this.options.log.warn({ err: error, accountId }, 'could not record an account status in the shared snapshot');
    }
    await this.options.shared.publish({ kind: 'account', accountId });
  }

  /** Drops cached entries on this instance only (tests; invalidations go through keyRevoked). */
  forget(predicate: (key: ApiKeyRow) => boolean): void {
    this.generation += 1;
    this.loading.clear(); // a read started before this may be stale: later requests start their own
    for (const [hash, entry] of this.cache) if (predicate(entry.key)) this.cache.delete(hash);
  }

  private apply(message: Invalidation): void {
    if (message.kind === 'key') {
      this.generation += 1;
      this.loading.delete(message.keyHash);
      this.cache.delete(message.keyHash);
    } else if (message.kind === 'account') {
      this.forget((key) => key.accountId === message.accountId);
    } else if (message.kind === 'all') {
      this.generation += 1;
      this.loading.clear();
      this.cache.clear();
    }
  }

  private lookup(hash: string): Promise<KeyRecord | undefined> | KeyRecord {
    const cached = this.cache.get(hash);
    if (cached && this.now() - cached.loadedAt < this.ttlMs) return cached;
    // A burst on a key that is not cached makes one read, not one per request.
    const pending = this.loading.get(hash);
    if (pending) return pending;
    const loading: Promise<KeyRecord | undefined> = this.load(hash, cached).finally(() => {
      if (this.loading.get(hash) === loading) this.loading.delete(hash);
    });
    this.loading.set(hash, loading);
    return loading;
  }

  private async load(hash: string, cached: CachedKey | undefined): Promise<KeyRecord | undefined> {
    const generation = this.generation;
    let row: KeyRecord | undefined;
    try {
      row = await this.read(hash, false);
    } catch (error) {
      const known = await this.lastKnown(hash, cached);
      if (known) return known;
      // Nothing known about this key: rather wait on Postgres (bounded) than refuse without asking.
      if (!(error instanceof DatabaseUnavailableError && error.skipped)) throw keysUnavailable();
      try {
        row = await this.read(hash, true);
      } catch {
        throw keysUnavailable();
      }
    }
    if (!row) {
      this.cache.delete(hash);
      return undefined;
    }
    if (generation === this.generation) this.cache.set(hash, { ...row, loadedAt: this.now() });
    this.share(hash, row);
    return row;
  }

  private async read(hash: string, force: boolean): Promise<KeyRecord | undefined> {
    const [row] = await this.options.guard.read(
      () =>
        this.options.db
          .select({ key: apiKeys, accountStatus: accounts.status })
          .from(apiKeys)
          .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
          .where(eq(apiKeys.keyHash, hash)),
      { force },
    );
    return row;
  }

  /** Postgres did not answer: the shared snapshot (it carries revocations), else our last read. */
  private async lastKnown(hash: string, cached: CachedKey | undefined): Promise<KeyRecord | undefined> {
    const generation = this.generation;
    let known: KeyRecord | undefined = cached;
    try {
      const snapshot = parseKeyRecord(await this.options.shared.getSnapshot(keySnapshotName(hash)));
      known = snapshot ?? cached;
      // The status an admin last set outranks the copy inside the key's snapshot.
      const status = known ? await this.options.shared.getSnapshot(accountStatusSnapshotName(known.key.accountId)) : null;
      if (known && status) known = { key: known.key, accountStatus: status };
    } catch (error) {
      this.options.log.warn({ err: error }, 'shared key snapshot unavailable');
    }
    // Cached as if just read: the next requests skip Redis, and invalidations still reach it.
    if (known && generation === this.generation) this.cache.set(hash, { key: known.key, accountStatus: known.accountStatus, loadedAt: this.now() });
    return known;
  }

  // The snapshot is refreshed at most once per TTL per key and instance (each Postgres read).
  private share(hash: string, record: KeyRecord): void {
    this.options.shared
      .putSnapshot(keySnapshotName(hash), serializeKeyRecord(record), { sticky: record.key.revokedAt !== null })
      .then(() => (this.snapshotWriteFailing = false))
      .catch((error: unknown) => {
        if (!this.snapshotWriteFailing) this.options.log.warn({ err: error }, 'could not refresh a shared key snapshot');
        this.snapshotWriteFailing = true;
      });
  }

  // last_used_at is advisory: written at most once a minute per key, off the request path, and not
  // at all while Postgres is down (those writes would only queue up).
  private touch(keyId: string): void {
    const at = this.now();
    if (this.options.guard.down || at - (this.lastUsedWritten.get(keyId) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastUsedWritten.set(keyId, at);
    this.options.db
      .update(apiKeys)
      .set({ lastUsedAt: new Date(at) })
      .where(eq(apiKeys.id, keyId))
      .catch((error: unknown) => this.options.log.warn({ err: error, keyId }, 'could not record last_used_at'));
  }
}
