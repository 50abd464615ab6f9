// Bearer-key authentication (SPEC 3.1): sha256 lookup, cached briefly, revoked/expired keys -> 401.
import { eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { hashApiKey, KEY_PATTERN, type ApiKeyRow, type KeyRole } from '../accounts/api-keys.js';
import type { Db } from '../db/client.js';
import { accounts, apiKeys } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { AppEnv, AuthContext } from './context.js';
import { forbidden, unauthorized } from './errors.js';

interface CachedKey {
  key: ApiKeyRow;
  accountStatus: string;
  loadedAt: number;
}

const LAST_USED_EVERY_MS = 60_000;

/**
 * Resolves keys to their rows. Entries live CACHE_TTL_MS, so a revocation made through another
 * instance takes effect within that time; one made through this instance takes effect at once.
 */
export class KeyAuthenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly ttlMs = 10_000,
    private readonly now = () => Date.now(),
  ) {}

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

  /** Drops cached entries so a revocation or suspension applies to the next request. */
  forget(predicate: (key: ApiKeyRow) => boolean): void {
    for (const [hash, entry] of this.cache) if (predicate(entry.key)) this.cache.delete(hash);
  }

  private async lookup(hash: string): Promise<CachedKey | undefined> {
    const cached = this.cache.get(hash);
    if (cached && this.now() - cached.loadedAt < this.ttlMs) return cached;
    let row: Omit<CachedKey, 'loadedAt'> | undefined;
    try {
      [row] = await this.db
        .select({ key: apiKeys, accountStatus: accounts.status })
        .from(apiKeys)
        .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
        .where(eq(apiKeys.keyHash, hash));
    } catch (error) {
      // Postgres is down: keys this instance knows keep working on what it last read (SPEC 2.5).
      if (cached) return cached;
      throw error;
    }
    if (!row) {
      this.cache.delete(hash);
      return undefined;
    }
    const entry = { ...row, loadedAt: this.now() };
    this.cache.set(hash, entry);
    return entry;
  }

  // last_used_at is advisory: written at most once a minute per key, off the request path.
  private touch(keyId: string): void {
    const at = this.now();
    if (at - (this.lastUsedWritten.get(keyId) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastUsedWritten.set(keyId, at);
    this.db
      .update(apiKeys)
      .set({ lastUsedAt: new Date(at) })
      .where(eq(apiKeys.id, keyId))
      .catch((error: unknown) => this.log.warn({ err: error, keyId }, 'could not record last_used_at'));
  }
}

type Access = 'any' | 'admin' | 'admin-or-auditor-read';

/** Authenticates the request; `access` decides which roles may pass (auditors only read). */
export function requireKey(access: Access = 'any'): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const auth = await c.get('deps').authenticator.authenticate(c.req.header('authorization'));
    const role: KeyRole = auth.key.role;
    if (access === 'admin' && role !== 'admin') throw forbidden('This route needs an admin key.');
    if (access === 'admin-or-auditor-read') {
      const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
      if (!(role === 'admin' || (role === 'auditor' && reading))) {
        throw forbidden(role === 'auditor' ? 'Auditor keys may only read.' : 'This route needs an admin key.');
      }
    }
    if (access === 'any' && role === 'auditor') throw forbidden('Auditor keys may only use admin read routes.');
    c.set('auth', auth);
    await next();
  };
}
