// What both HoldStore implementations share: loading the balance mirror on a miss (one load per
// account at a time, bounded retries) and the input checks every store applies.
import type { ReserveRequest } from './types.js';

/** A capture marker lives this long, so a retried capture of one hold charges once. */
export const CAPTURE_MARKER_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_LOAD_ATTEMPTS = 5;

export const MISSING = Symbol('mirror missing');
export type Missing = typeof MISSING;

export class MirrorLoader {
  private readonly loading = new Map<string, Promise<void>>();

  /** `load` reads Postgres and installs the mirror (or declines, when the balance moved meanwhile). */
  constructor(private readonly load: (accountId: string) => Promise<void>) {}

  /** Runs attempt(), loading the mirror whenever it reports the mirror missing. */
  async run<T>(accountId: string, attempt: () => T | Missing | Promise<T | Missing>): Promise<T> {
    let result = await attempt();
    for (let loads = 0; result === MISSING && loads < MAX_LOAD_ATTEMPTS; loads++) {
      await this.loadShared(accountId);
      result = await attempt();
    }
    if (result !== MISSING) return result;
    throw new Error(
      `could not load the balance mirror of account ${accountId} after ${MAX_LOAD_ATTEMPTS} tries: its balance kept changing while loading`,
    );
  }

  /** Concurrent misses share one load instead of each reading Postgres. */
  private loadShared(accountId: string): Promise<void> {
    let load = this.loading.get(accountId);
    if (!load) {
      load = this.load(accountId).finally(() => this.loading.delete(accountId));
      this.loading.set(accountId, load);
    }
    return load;
  }
}

export function checkReserveRequest(request: ReserveRequest): void {
  checkTokens('amountTokens', request.amountTokens);
  checkTokens('minimumTokens', request.minimumTokens);
  if (!Number.isFinite(request.ttlSeconds) || request.ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be positive, got ${request.ttlSeconds}`);
  }
}

export function checkTokens(name: string, value: number): void {
  checkInteger(name, value);
  if (value < 0) throw new RangeError(`${name} must not be negative, got ${value}`);
}

export function checkInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a safe integer, got ${value}`);
}
