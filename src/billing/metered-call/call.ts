// One metered call from hold to settlement (SPEC section 3): reserve -> forward -> count -> settle, the
// same for every operation kind. The upstream call follows the gateway's own signal, not the client's:
// when the client leaves, the provider keeps the request and bills it, so the call keeps reading (for a
// bounded time and size) to learn that usage, then settles.
import type { Deps } from '../../deps.js';
import { ApiError, insufficientBalance } from '../../http/errors.js';
import type { Admission } from '../../limits/limiter.js';
import { jsonResponse, upstreamErrorBody } from './answers.js';
import { UpstreamUnavailableError, type ChatResponse } from '../../providers/types.js';
import type { ReserveResult, Settlement } from '../holds/types.js';
import { MAX_REPLAY_BYTES, NOT_REPLAYABLE_HEADER, type IdempotencyGate } from './idempotency-gate.js';
import { farFromBalance, rememberAvailable } from './balance-hint.js';
import type { InflightCall } from './inflight.js';
import { settle, settlementOf, type Outcome } from './settle.js';
import { relayStream, STREAM_HEADERS, type StreamEnding } from './stream-relay.js';
import { NO_USAGE, type HoldRequestPlan, type MeteredOperation, type MeteredRequest, type StreamMeter } from './types.js';

type BufferedResponse = Extract<ChatResponse, { kind: 'buffered' }>;

/** Why the gateway itself stopped the upstream call. */
export type UpstreamAbort = 'drain' | 'shutdown';

/** Nobody is listening: the status a response to a departed client carries (nginx's convention). */
const CLIENT_GONE_STATUS = 499;

export class MeteredCall implements InflightCall {
  readonly settled: Promise<void>;
  private markSettled!: () => void;
  private readonly startedAt = Date.now();
  /** performance.now() at the request's arrival, at the upstream call, and when its answer ended (metrics). */
  private readonly receivedAt: number;
  private upstreamStartedAt = 0;
  private upstreamEndedAt = 0;
  private holding = false;
  private readonly upstream = new AbortController();
  private heldTokens = 0;
  /** The key's limits admitted this call (src/limits): corrected at settlement, given back on a void. */
  private admission: Admission | null = null;
  private sent = false;
  private meter: StreamMeter | null = null;
  private drainTimer: NodeJS.Timeout | undefined;
  private unregister: (() => void) | undefined;
  private stopListening: (() => void) | undefined;
  private ended = false;
  clientGone = false;
  abortReason: UpstreamAbort | null = null;
  /** Set by the stream relay: wakes it when the client leaves while it waits for the client to read. */
  wakeRelay: (() => void) | null = null;

  constructor(
    private readonly deps: Deps,
    private readonly request: MeteredRequest,
    readonly op: MeteredOperation,
    private readonly gate: IdempotencyGate,
  ) {
    this.settled = new Promise((resolve) => (this.markSettled = resolve));
    this.receivedAt = request.receivedAt ?? performance.now();
  }

  /** Holds the worst case, or what the balance pays under `clamp`; 402 when it cannot pay the least. */
  async reserve(): Promise<void> {
    const { reservationPolicy } = await this.deps.settings.get();
    const { key, accountId } = this.request.auth;
    // A short prompt far from the balance is held by its bytes (an upper bound, ~0.1 µs) instead of a
    // tiktoken count; counted when near the balance (or unknown), or when key limits count its tokens.
    const limited = key.tpm !== null || key.budgetTokens !== null;
    let plan = await this.op.planHold(reservationPolicy, limited ? 'exact' : 'bound');
    if (plan.bound && !farFromBalance(accountId, plan.amountTokens)) plan = await this.op.planHold(reservationPolicy, 'exact');
    // Key limits first (429/402 with headers): a refused request is never held. Given back below if no hold follows.
    const admission = await this.deps.limits.admit(this.request.auth, { estimatedTokens: plan.estimatedTokens ?? 0, estimatedCostTokens: plan.amountTokens });
    this.admission = admission;
    try {
      let hold = await this.hold(plan);
      if (plan.bound && (!hold.ok || hold.heldTokens < plan.amountTokens)) {
        // The balance moved (another instance, or many requests at once): the bound may refuse or clamp a
        // request its exact count pays for.
        if (hold.ok) await this.deps.holds.void(accountId, this.request.requestId);
        plan = await this.op.planHold(reservationPolicy, 'exact');
        hold = await this.hold(plan);
      }
      rememberAvailable(accountId, hold.availableTokens);
      if (!hold.ok) {
        if (hold.availableTokens < 0) {
          throw insufficientBalance(
            `The account balance is negative (${hold.availableTokens} tokens) after usage beyond what was held; requests are refused until a credit makes it positive again.`,
          );
        }
        throw insufficientBalance(`Insufficient balance: this request needs up to ${plan.minimumTokens} tokens and ${hold.availableTokens} are available.`);
      }
      this.heldTokens = hold.heldTokens;
      this.holding = true;
      this.deps.metrics.holdOpened();
    } catch (error) {
      await this.deps.limits.release(admission);
      throw error;
    }
  }

  private hold(plan: HoldRequestPlan): Promise<ReserveResult> {
    return this.deps.holds.reserve({
      accountId: this.request.auth.accountId,
      holdId: this.request.requestId,
      amountTokens: plan.amountTokens,
      minimumTokens: plan.minimumTokens,
      ttlSeconds: this.deps.config.HOLD_TTL_SECONDS,
    });
  }

  async run(): Promise<Response> {
    if (this.request.client.gone) {
      // Nothing reached the provider: nothing to bill.
      await this.voidHold();
      await this.gate.abandon();
      this.end();
      return new Response(null, { status: CLIENT_GONE_STATUS });
    }
    this.unregister = this.deps.inflight.add(this);
    this.stopListening = this.request.client.onGone(this.onClientGone);
    let streaming = false;
    try {
      let response: ChatResponse;
      try {
        this.sent = true; // from here on the provider may have the request
        this.upstreamStartedAt = performance.now();
        response = await this.op.forward(this.heldTokens, this.upstream.signal);
      } catch (error) {
        this.upstreamEndedAt = performance.now();
        return await this.forwardFailed(error);
      }
      if (response.kind === 'buffered') this.upstreamEndedAt = performance.now();
      if (response.kind === 'buffered') return await this.completeBuffered(response);
      streaming = true;
      this.meter = this.op.streamMeter();
      return relayStream(this, this.meter, { ...response, passHeaders: { ...response.passHeaders, ...this.admission?.headers } }, this.request.client.outgoing);
    } finally {
      if (!streaming) this.end();
    }
  }

  /** The client left: keep reading the upstream for its usage, but only so long. */
  readonly onClientGone = (): void => {
    if (this.clientGone) return;
    this.clientGone = true;
    this.deps.log.debug({ requestId: this.request.requestId }, 'client gone; reading the upstream on for its usage');
    this.drainTimer = setTimeout(() => this.abortUpstream('drain'), this.deps.config.DRAIN_AFTER_DISCONNECT_MS);
    this.wakeRelay?.();
  };

  abortUpstream(reason: UpstreamAbort): void {
    this.abortReason ??= reason;
    this.upstream.abort();
  }

  cut(): void {
    this.abortUpstream('shutdown');
    this.wakeRelay?.();
  }

  async heartbeat(): Promise<void> {
    const { accountId } = this.request.auth;
    // Progress is what a killed process leaves to bill: nothing until the provider may have the request.
    const progress = this.sent && !this.ended ? this.settlementOf(this.progressOutcome()) : undefined;
    await Promise.all([
      this.deps.holds.extend(accountId, this.request.requestId, this.deps.config.HOLD_TTL_SECONDS, progress),
      this.gate.extend(),
    ]).catch((error: unknown) => this.deps.log.warn({ err: error, requestId: this.request.requestId }, 'could not extend a running hold'));
  }

  /** The stream relay's last step: bill what the stream carried, keep it for replays, end the call. */
  async finishStream(ending: StreamEnding, replay: Uint8Array | null): Promise<void> {
    this.upstreamEndedAt = performance.now();
    const meter = this.meter!;
    const reading = meter.reading();
    const status = this.statusOf(ending === 'completed' && reading.completed && reading.error === null);
    const outcome: Outcome = reading.usage
      ? { usage: reading.usage, source: 'provider', status }
      : reading.error && !reading.generatedOutput
        ? { usage: NO_USAGE, source: 'provider', status } // a provider error without usage or output is not billed (SPEC 3.8)
        : { usage: this.op.estimateFromStream(), source: 'estimated', status };
    try {
      await this.settle(outcome);
      // A whole answer is kept for replays even if its client left: a retry gets it without paying twice.
      const whole = ending === 'completed' && reading.completed && reading.error === null && this.abortReason === null;
      if (whole) await this.gate.remember(200, STREAM_HEADERS, replay);
      else await this.gate.abandon();
    } catch (error) {
      this.deps.log.error({ err: error, requestId: this.request.requestId }, 'could not settle a stream');
    } finally {
      this.end();
    }
  }

  get requestId(): string {
    return this.request.requestId;
  }

  /** Whether the answer's bytes are kept for Idempotency-Key replays. */
  get keepsReplay(): boolean {
    return this.gate.key !== null;
  }

  private statusOf(answeredNormally: boolean): Settlement['status'] {
    if (this.abortReason === 'shutdown') return 'interrupted';
    if (this.clientGone) return 'client_aborted';
    return answeredNormally ? 'ok' : 'error';
  }

  private progressOutcome(): Outcome {
    const usage = this.meter ? this.op.estimateFromStream() : this.op.estimateWithoutAnswer();
    return { usage, source: 'estimated', status: 'interrupted' };
  }

  private async forwardFailed(error: unknown): Promise<Response> {
    if (this.abortReason) {
      // We stopped a call the provider already had: bill what it surely used.
      await this.settle({ usage: this.op.estimateWithoutAnswer(), source: 'estimated', status: this.statusOf(false) });
      await this.gate.abandon();
      if (this.abortReason === 'shutdown' && !this.clientGone) {
        throw new ApiError(503, 'shutting_down', 'The gateway is shutting down; retry the request.', 'api_error', null, { 'retry-after': '1' });
      }
      return new Response(null, { status: CLIENT_GONE_STATUS });
    }
    await this.voidHold();
    await this.gate.abandon();
    if (error instanceof UpstreamUnavailableError) {
      // The client gets a clear message; the address and errno go to the log only.
      this.deps.log.warn({ requestId: this.request.requestId, provider: this.op.model.provider, kind: error.kind, detail: error.detail }, 'upstream unavailable');
      throw new ApiError(error.kind === 'timeout' ? 504 : 502, `upstream_${error.kind}`, error.message, 'upstream_error');
    }
    throw error;
  }

  /** Non-stream answers and provider errors: bill from the body's usage, answer once. */
  private async completeBuffered(response: BufferedResponse): Promise<Response> {
    const { bytes } = response;
    const json = parseJsonOrNull(bytes);
    const reported = json === null ? null : this.op.usageFromBody(json);

    if (response.status >= 400) {
      if (reported) await this.settle({ usage: reported, source: 'provider', status: this.clientGone ? 'client_aborted' : 'error' });
      else await this.voidHold();
      // A provider error is not a result to replay: a retry with the same key runs again.
      await this.gate.abandon();
      return jsonResponse(response.status, upstreamErrorBody(json, bytes, response.status), { ...response.passHeaders, ...this.admission?.headers });
    }
    if (json === null) {
      await this.voidHold();
      await this.gate.abandon();
      throw new ApiError(502, 'upstream_malformed', 'The provider returned a body that is not JSON.', 'upstream_error');
    }
    const status = this.statusOf(true);
    const outcome: Outcome = reported ? { usage: reported, source: 'provider', status } : { usage: this.op.estimateFromBody(json), source: 'estimated', status };
    const { costTokens, balanceTokens } = await this.settle(outcome);
    const headers: Record<string, string> = {
      ...response.passHeaders,
      ...this.admission?.headers,
      'content-type': 'application/json',
      'x-tokengate-cost': String(costTokens),
      'x-tokengate-balance': String(balanceTokens),
    };
    const replayable = bytes.length <= MAX_REPLAY_BYTES;
    if (this.gate.key && !replayable) Object.assign(headers, NOT_REPLAYABLE_HEADER);
    await this.gate.remember(200, headers, replayable ? bytes : null);
    return new Response(bytes, { status: 200, headers });
  }

  private settlementOf(outcome: Outcome): Settlement {
    return settlementOf(this.request, this.op, this.startedAt, outcome);
  }

  private async settle(outcome: Outcome): Promise<{ costTokens: number; balanceTokens: number }> {
    const settled = await settle(this.deps, this.settlementOf(outcome));
    this.deps.metrics.tokensMetered(this.op.model.id, outcome.usage);
    // The key's token bucket and budget learn what the call really used (never throws).
    if (this.admission) await this.deps.limits.settle(this.admission, { actualTokens: outcome.usage.inputTokens + outcome.usage.outputTokens, costTokens: settled.costTokens });
    return settled;
  }

  private async voidHold(): Promise<void> {
    await this.deps.holds.void(this.request.auth.accountId, this.request.requestId);
    if (this.admission) await this.deps.limits.release(this.admission);
  }

  /** Runs once, whichever way the call ended. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.holding) this.deps.metrics.holdClosed();
    if (this.upstreamStartedAt > 0) {
      const now = performance.now();
      this.deps.metrics.call(this.op.model.provider, (this.upstreamEndedAt || now) - this.upstreamStartedAt, now - this.receivedAt);
    }
    clearTimeout(this.drainTimer);
    this.stopListening?.();
    this.unregister?.();
    this.markSettled();
  }
}

function parseJsonOrNull(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}
