// LimitStore on Redis: one Lua script per admission and per settlement (one round trip each), shared
// by every gateway instance. See scripts.ts for the keys.
import type { Redis } from 'ioredis';
import { admitScript, settleScript } from './scripts.js';
import type { BucketState, LimitAdmit, LimitAdmitResult, LimitSettle, LimitStore } from './types.js';

type ScriptCall = (...keysThenArgs: Array<string | number>) => Promise<unknown>;
interface Commands {
  tokengateLimitAdmit: ScriptCall;
  tokengateLimitSettle: ScriptCall;
}

export class RedisLimitStore implements LimitStore {
  private readonly commands: Commands;

  /** The store does not own the client. */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('tokengateLimitAdmit', { numberOfKeys: 5, lua: admitScript });
    redis.defineCommand('tokengateLimitSettle', { numberOfKeys: 5, lua: settleScript });
    this.commands = redis as unknown as Commands;
  }

  async admit(request: LimitAdmit): Promise<LimitAdmitResult> {
    const reply = await this.commands.tokengateLimitAdmit(
      ...this.keys(request.keyId, request.month),
      request.rpm ?? 0, request.tpm ?? 0, request.budgetTokens ?? 0, request.tokens, request.costTokens,
      request.reservationId, request.reservationTtlMs,
    );
    const values = integers(reply);
    const bucket = (limit: number | null, remaining: number, resetMs: number): BucketState | null => (limit === null ? null : { remaining, resetMs });
    switch (values[0]) {
      case 1:
        return {
          outcome: 'admitted',
          requests: bucket(request.rpm, values[1]!, values[2]!),
          tokens: bucket(request.tpm, values[3]!, values[4]!),
          budget: request.budgetTokens === null ? null : { spentTokens: values[5]!, reservedTokens: values[6]! },
          reservedCostTokens: values[7]!,
        };
      case 0:
        return {
          outcome: 'limited',
          limit: values[1] === 1 ? 'requests' : 'tokens',
          retryAfterMs: values[2]!,
          requests: bucket(request.rpm, values[3]!, values[4]!),
          tokens: bucket(request.tpm, values[5]!, values[6]!),
        };
      case 3:
        return { outcome: 'budget_exceeded', spentTokens: values[1]!, reservedTokens: values[2]! };
      case 2:
        return { outcome: 'spent_missing' };
      default:
        throw new Error(`limit admit script returned ${JSON.stringify(reply)}`);
    }
  }

  async settle(request: LimitSettle): Promise<void> {
    await this.commands.tokengateLimitSettle(
      ...this.keys(request.keyId, request.month),
      request.tpm ?? 0, request.tokenDelta, request.reservationId, request.costTokens,
    );
  }

  async initSpent(keyId: string, month: string, spentTokens: number, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys(keyId, month)[1], String(spentTokens), 'PX', ttlMs, 'NX');
  }

  private keys(keyId: string, month: string): [string, string, string, string, string] {
    const base = `${this.prefix}{key:${keyId}}`;
    return [`${base}:rate`, `${base}:spent:${month}`, `${base}:resv`, `${base}:resvamt`, `${base}:resvsum`];
  }
}

function integers(reply: unknown): number[] {
  if (!Array.isArray(reply)) throw new Error(`limit script returned ${JSON.stringify(reply)}`);
  return reply.map((value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new Error(`limit script returned a non-integer: ${String(value)}`);
    return n;
  });
}
