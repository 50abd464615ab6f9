// The Idempotency-Key side of a metered call: claim the key before holding money, replay a finished
// answer, and record the outcome once the call is billed.
import type { Deps } from '../../deps.js';
import { ApiError } from '../../http/errors.js';
import { fingerprintOf, isStored, type Completion } from '../idempotency-store.js';
import type { MeteredRequest } from './types.js';

/** Answers larger than this are billed and delivered but not kept for replays (Redis also holds balances). */
export const MAX_REPLAY_BYTES = 1024 * 1024;

export type GateOpening = { replay: Response } | { gate: IdempotencyGate };

export class IdempotencyGate {
  private constructor(
    private readonly deps: Deps,
    private readonly request: MeteredRequest,
    /** null when the request carries no Idempotency-Key: every method is then a no-op. */
    readonly key: string | null,
  ) {}

  static async open(deps: Deps, request: MeteredRequest): Promise<GateOpening> {
    const key = request.header('idempotency-key') ?? null;
    const gate = new IdempotencyGate(deps, request, key);
    if (key === null) return { gate };
    const start = await deps.idempotency.start(request.auth.accountId, key, fingerprintOf(request.rawBody), deps.config.HOLD_TTL_SECONDS);
    if (start.state === 'new') return { gate };
    if (start.state === 'mismatch') throw conflict('idempotency_key_reused', 'This Idempotency-Key was used with a different request body.');
    if (start.state === 'in_progress') throw conflict('idempotency_in_progress', 'A request with this Idempotency-Key is still in progress; retry later.');
    return { replay: replayOf(start.response) };
  }

  /** The attempt ended without a bill worth keeping (refused, provider error): a retry runs again. */
  async abandon(): Promise<void> {
    if (this.key) await this.deps.idempotency.abandon(this.request.auth.accountId, this.key);
  }

  async extend(): Promise<void> {
    if (this.key) await this.deps.idempotency.extend(this.request.auth.accountId, this.key, this.deps.config.HOLD_TTL_SECONDS);
  }

  /**
   * Keeps a billed answer for replays; `body` is null when it was too large to keep. Never throws: the
   * answer is billed and must reach the client. If the full answer cannot be stored, a small record
   * saying "billed, not replayable" is tried; if even that fails the key stays "in progress" until the
   * marker expires (a retry is refused meanwhile rather than billed twice).
   */
  async remember(status: number, headers: Record<string, string>, body: Uint8Array | null): Promise<void> {
    if (!this.key) return;
    const { accountId } = this.request.auth;
    const fingerprint = fingerprintOf(this.request.rawBody);
    const unstored: Completion = { notStored: true, requestId: this.request.requestId };
    const completion: Completion =
      body === null
        ? unstored
        : { status, headers: { ...headers, 'x-tokengate-original-request-id': this.request.requestId }, bodyBase64: Buffer.from(body).toString('base64') };
    try {
      await this.deps.idempotency.complete(accountId, this.key, fingerprint, completion);
    } catch (error) {
      this.deps.log.error({ err: error, requestId: this.request.requestId }, 'could not store the response for Idempotency-Key replays');
      if (completion !== unstored) await this.deps.idempotency.complete(accountId, this.key, fingerprint, unstored).catch(() => undefined);
    }
  }
}

/** The header a response carries when its answer is too large to be replayed. */
export const NOT_REPLAYABLE_HEADER = { 'x-tokengate-idempotency': 'not-replayable' };

function replayOf(completion: Completion): Response {
  if (!isStored(completion)) {
    throw conflict(
      'idempotency_response_not_stored',
      `The request with this Idempotency-Key (${completion.requestId}) completed and was billed; its answer was larger than ${MAX_REPLAY_BYTES} bytes and is not kept for replays.`,
    );
  }
  return new Response(Buffer.from(completion.bodyBase64, 'base64'), {
    status: completion.status,
    headers: { ...completion.headers, 'x-tokengate-idempotent-replay': 'true' },
  });
}

function conflict(code: string, message: string): ApiError {
  return new ApiError(409, code, message, 'conflict_error', 'Idempotency-Key');
}
