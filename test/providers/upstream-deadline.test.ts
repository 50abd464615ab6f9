// The timeout and abort rules every adapter shares (src/providers/upstream-deadline.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UpstreamUnavailableError } from '../../src/providers/types.js';
import { UpstreamDeadline } from '../../src/providers/upstream-deadline.js';

const refused = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:8443'), { code: 'ECONNREFUSED' }) });

describe('UpstreamDeadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('times out after timeoutMs: the signal aborts and the error is a 504-kind with a safe message', () => {
    const deadline = new UpstreamDeadline('Gemini', 300, new AbortController().signal);
    vi.advanceTimersByTime(299);
    expect(deadline.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.signal.aborted).toBe(true);
    const error = deadline.explain(new Error('aborted'));
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ kind: 'timeout', message: 'Gemini did not answer within 300 ms.' });
  });

  it('once a stream started, only the caller ends it', () => {
    const caller = new AbortController();
    const deadline = new UpstreamDeadline('Gemini', 300, caller.signal);
    deadline.streamStarted();
    vi.advanceTimersByTime(10_000);
    expect(deadline.signal.aborted).toBe(false);
    caller.abort();
    expect(deadline.signal.aborted).toBe(true);
  });

  it("passes the caller's own abort through unchanged", () => {
    const caller = new AbortController();
    const deadline = new UpstreamDeadline('OpenAI', 300, caller.signal);
    caller.abort();
    const original = new Error('the client went away');
    expect(deadline.explain(original)).toBe(original);
  });

  it('a network failure: the message names the provider only, the detail keeps address and errno for the log', () => {
    const deadline = new UpstreamDeadline('OpenAI', 300, new AbortController().signal);
    const error = deadline.explain(refused()) as UpstreamUnavailableError;
    expect(error).toMatchObject({ kind: 'connection', message: 'Could not reach OpenAI.' });
    expect(error.detail).toContain('connect ECONNREFUSED 10.1.2.3:8443');
    expect(error.detail).toContain('fetch failed');
  });

  it('dispose releases the timer and the listener', () => {
    const caller = new AbortController();
    const deadline = new UpstreamDeadline('OpenAI', 300, caller.signal);
    deadline.dispose();
    vi.advanceTimersByTime(1_000);
    caller.abort();
    expect(deadline.signal.aborted).toBe(false);
  });
});
