// The metered calls running in this process. One shared ticker (not a timer per request) keeps each
// call's hold and Idempotency-Key marker alive and records its progress, so a hold lives as long as its
// request (SPEC 2.6) and a killed process leaves holds that can be settled by what they delivered.
// Shutdown uses the same list to cut what is still running before the process must exit.
import type { Logger } from '../../log.js';

export interface InflightCall {
  /** Extends the hold and marker and records progress. Must not throw. */
  heartbeat(): Promise<void>;
  /** Ends the call now (shutdown): stop the upstream and settle what was delivered. */
  cut(): void;
  /** Resolves when the call has settled (after cut() or on its own). */
  readonly settled: Promise<void>;
}

export class InflightCalls {
  private readonly calls = new Set<InflightCall>();
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(
    /** How often each running call is extended; well inside the hold's lifetime. */
    private readonly periodMs: number,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.calls.size;
  }

  /** Registers a running call; returns the function that removes it. */
  add(call: InflightCall): () => void {
    this.calls.add(call);
    if (!this.ticker) {
      this.ticker = setInterval(() => void this.tick(), this.periodMs);
      this.ticker.unref();
    }
    return () => {
      this.calls.delete(call);
      if (this.calls.size === 0 && this.ticker) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  /** Cuts every running call and waits until each has settled. */
  async cutAll(): Promise<void> {
    const running = [...this.calls];
    if (running.length === 0) return;
    this.log.warn({ calls: running.length }, 'shutdown deadline near: cutting calls still running and billing what they delivered');
    for (const call of running) call.cut();
    await Promise.all(running.map((call) => call.settled));
  }

  private async tick(): Promise<void> {
    // A tick that outlasts the period (Redis slow) is not stacked on by the next one.
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all([...this.calls].map((call) => call.heartbeat()));
    } finally {
      this.ticking = false;
    }
  }
}

/** Heartbeats come three times per hold lifetime at least, and every few seconds for progress. */
export function heartbeatPeriodMs(holdTtlSeconds: number): number {
  return Math.max(50, Math.min(5_000, Math.floor((holdTtlSeconds * 1000) / 3)));
}
