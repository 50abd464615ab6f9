// Dashboard sessions: a random token in an httpOnly cookie, and on the server what it stands for (the
// sha256 of the API key it was opened with, never the key). In Redis when the gateway has one, so any
// instance answers; otherwise in this process (one instance, like the in-process hold store).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface Session {
  /** sha256 of the API key: every request re-checks it like a bearer key (revocation, suspension). */
  keyHash: string;
  /** Synchronizer token every form of this session carries. */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStore {
  create(keyHash: string, ttlMs: number): Promise<{ token: string; session: Session }>;
  get(token: string): Promise<Session | null>;
  delete(token: string): Promise<void>;
}

export const newToken = () => randomBytes(32).toString('base64url');
// Stored under the token's hash: a leaked store (or a Redis dump) does not hand out live sessions.
const tokenId = (token: string) => createHash('sha256').update(token).digest('hex');

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function fresh(keyHash: string, ttlMs: number, now: number): Session {
  return { keyHash, csrf: newToken(), createdAt: now, expiresAt: now + ttlMs };
}

function parse(text: string | null, now: number): Session | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<Session>;
    if (typeof value.keyHash !== 'string' || typeof value.csrf !== 'string' || typeof value.expiresAt !== 'number' || typeof value.createdAt !== 'number') return null;
    return value.expiresAt > now ? (value as Session) : null;
  } catch {
    return null;
  }
}

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private name(token: string): string {
    return `${this.prefix}dashboard:session:${tokenId(token)}`;
  }

  async create(keyHash: string, ttlMs: number) {
    const token = newToken();
    const session = fresh(keyHash, ttlMs, this.now());
    await this.redis.set(this.name(token), JSON.stringify(session), 'PX', ttlMs);
    return { token, session };
  }

  async get(token: string): Promise<Session | null> {
    return parse(await this.redis.get(this.name(token)), this.now());
  }

  async delete(token: string): Promise<void> {
    await this.redis.del(this.name(token));
  }
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  async create(keyHash: string, ttlMs: number) {
    const now = this.now();
    // Expired sessions are dropped on the way, so the map stays as small as the live sessions.
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    const token = newToken();
    const session = fresh(keyHash, ttlMs, now);
    this.sessions.set(tokenId(token), session);
    return { token, session };
  }

  async get(token: string): Promise<Session | null> {
    const session = this.sessions.get(tokenId(token));
    return session && session.expiresAt > this.now() ? session : null;
  }

  async delete(token: string): Promise<void> {
    this.sessions.delete(tokenId(token));
  }
}
