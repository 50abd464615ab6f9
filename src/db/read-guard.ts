// Reads on the request path that have a fallback (key lookups, settings) go through this guard: a
// short timeout, and after a failure the database counts as down, so requests answer from their
// fallback at once instead of each waiting on Postgres. One request probes it again every retryMs.

export class DatabaseUnavailableError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown },
    /** True when the read was not even tried (the database was known to be down). */
    readonly skipped = false,
  ) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

export interface ReadGuardOptions {
  /** How long a guarded read may take before it counts as a failure (its caller has a fallback). */
  timeoutMs?: number;
  /** The same for a forced read, whose caller has no fallback: a busy Postgres gets longer. */
  forcedTimeoutMs?: number;
  /** While down, how often one read is let through to find out whether Postgres is back. */
  retryMs?: number;
  now?: () => number;
  /** Called once when reads start failing and once when they succeed again. */
  onChange?: (state: 'down' | 'up', error?: unknown) => void;
  /** Called for every read that was tried and failed (metrics). */
  onFailure?: () => void;
}

export class DatabaseReadGuard {
  private downSince: number | null = null;
  private nextProbeAt = 0;
  private probing = false;
  private readonly timeoutMs: number;
  private readonly forcedTimeoutMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ReadGuardOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 500;
    this.forcedTimeoutMs = options.forcedTimeoutMs ?? 5_000;
    this.retryMs = options.retryMs ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.downSince !== null;
  }

  /**
   * Runs `query` with the timeout; throws DatabaseUnavailableError at once while the database is
   * down (except for the one read that probes it), unless `force`: a caller with no fallback at all
   * rather waits the timeout than fails. The query itself is not cancelled on timeout: postgres.js
   * cannot take it back, and its late answer is simply dropped.
   */
  async read<T>(query: () => Promise<T>, { force = false }: { force?: boolean } = {}): Promise<T> {
    const probe = this.downSince !== null && !force;
    if (probe) {
      if (this.probing || this.now() < this.nextProbeAt) throw new DatabaseUnavailableError('Postgres is unavailable; answering from the last known values', undefined, true);
      this.probing = true;
    }
    try {
      const result = await withTimeout(query(), force ? this.forcedTimeoutMs : this.timeoutMs);
      if (this.downSince !== null) this.options.onChange?.('up');
      this.downSince = null;
      return result;
    } catch (error) {
      this.options.onFailure?.();
      if (this.downSince === null) this.options.onChange?.('down', error);
      this.downSince ??= this.now();
      this.nextProbeAt = this.now() + this.retryMs;
      throw error instanceof DatabaseUnavailableError ? error : new DatabaseUnavailableError('a Postgres read failed', { cause: error });
    } finally {
      if (probe) this.probing = false;
    }
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`no answer from Postgres within ${ms} ms`)), ms);
  });
  // The losing promise must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
