// The timeout and abort rules every adapter shares (README, "Timeout"): UPSTREAM_TIMEOUT_MS bounds the
// wait for a whole non-stream answer and for a stream's first bytes; once a stream flows only the
// caller's signal (or the caller closing the stream) ends it. Adapters hand `signal` to whatever does
// the I/O and turn failures into client-safe errors with `explain`.
import { UpstreamUnavailableError } from './types.js';

export class UpstreamDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;
  private readonly onCallerAbort = () => this.controller.abort(this.callerSignal.reason);

  /** Aborts when the caller's signal does, when the timeout passes (until `streamStarted`), or on `abort()`. */
  readonly signal: AbortSignal = this.controller.signal;

  constructor(
    /** The provider as clients know it, for messages: "OpenAI", "Gemini". */
    private readonly provider: string,
    private readonly timeoutMs: number,
    private readonly callerSignal: AbortSignal,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    if (callerSignal.aborted) this.onCallerAbort();
    else callerSignal.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** True when the caller gave up (the client left, or shutdown): nobody is waiting for an error. */
  get callerAborted(): boolean {
    return this.callerSignal.aborted;
  }

  /** The stream's first bytes arrived: from now on the timeout no longer applies. */
  streamStarted(): void {
    clearTimeout(this.timer);
  }

  /** Ends the upstream call now (the caller closed the stream). */
  abort(): void {
    this.dispose();
    this.controller.abort(new Error('the upstream call was closed by the gateway'));
  }

  /** The call is over: releases the timer and the caller's listener (idempotent). */
  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal.removeEventListener('abort', this.onCallerAbort);
  }

  /**
   * The caller's own abort passes through unchanged (nobody reads it); our timeout and any other
   * failure to get an answer become an UpstreamUnavailableError whose message names only the
   * provider, with the underlying error (addresses, errno) kept in `detail` for the log.
   */
  explain(error: unknown): unknown {
    this.dispose();
    if (error instanceof UpstreamUnavailableError) return error;
    if (this.callerSignal.aborted && !this.timedOut) return error;
    if (this.timedOut) {
      return new UpstreamUnavailableError(`${this.provider} did not answer within ${this.timeoutMs} ms.`, 'timeout', `timeout after ${this.timeoutMs} ms`);
    }
    return new UpstreamUnavailableError(`Could not reach ${this.provider}.`, 'connection', describeError(error));
  }
}

/** The error and its causes in one line (fetch hides the errno in `cause`). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth += 1) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      parts.push(`${current.name}: ${current.message}${typeof code === 'string' && !current.message.includes(code) ? ` (${code})` : ''}`);
      current = current.cause;
    } else {
      parts.push(String(current));
      current = undefined;
    }
  }
  return parts.join(' <- ');
}
