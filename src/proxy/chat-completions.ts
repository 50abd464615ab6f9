// The one core path of POST /v1/chat/completions (SPEC section 3):
// validate -> reserve -> forward -> count -> settle. Routes stay thin; providers stay transport.
import type { ChatModel } from '../billing/price-table.js';
import { captureServed } from '../billing/capture.js';
import { chargeFor } from '../billing/pricing.js';
import type { Settlement } from '../billing/holds/types.js';
import type { Deps } from '../deps.js';
import type { Admission } from '../limits/limiter.js';
import type { AuthContext } from '../http/context.js';
import { ApiError, badRequest, forbidden, fromZodError, insufficientBalance } from '../http/errors.js';
import { generatedFromCompletion } from '../metering/completion.js';
import { OpenAIStreamMeter, requestWantsUsage, withIncludeUsage } from '../metering/openai-stream.js';
import { countCompletionTokens, estimatePromptTokensAsync } from '../metering/tokenizer.js';
import { usageFromOpenAI, type ProviderUsage } from '../metering/usage.js';
import { UpstreamUnavailableError, type ChatProvider, type ChatResponse } from '../providers/types.js';
import { chatRequestSchema, type ChatRequestBody } from './chat-request.js';
import { fingerprintOf, type StoredResponse } from './idempotency.js';
import { clampedOutputCap, planHold } from './reservation.js';
import { jsonResponse, upstreamErrorBody } from './responses.js';

type BufferedResponse = Extract<ChatResponse, { kind: 'buffered' }>;
type StreamResponse = Extract<ChatResponse, { kind: 'stream' }>;

export interface ChatCall {
  requestId: string;
  auth: AuthContext;
  rawBody: string;
  header(name: string): string | undefined;
  /** Aborted when the client goes away. */
  clientSignal: AbortSignal;
}

/** A request that passed validation and holds money: everything settlement needs to know. */
interface HeldRequest {
  call: ChatCall;
  model: ChatModel;
  body: ChatRequestBody;
  promptTokens: number;
  startedAt: number;
  idempotencyKey: string | null;
  /** [keys] Set by reserve(): the key's limits admitted this request (see src/limits/limiter.ts). */
  admission?: Admission;
}

const NO_USAGE: ProviderUsage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };

type Outcome = { usage: ProviderUsage; source: 'provider' | 'estimated'; status: Settlement['status'] };

export async function handleChatCompletion(deps: Deps, call: ChatCall): Promise<Response> {
  const startedAt = Date.now();
  const body = parseBody(call.rawBody);
  const model = resolveModel(deps, call.auth, body.model);
  const provider = deps.providers.get(model.provider);
  if (!provider) throw badRequest(`The model '${body.model}' is not available: its provider '${model.provider}' is not enabled on this gateway.`, 'model', 'model_not_available');

  const idempotencyKey = call.header('idempotency-key') ?? null;
  if (idempotencyKey) {
    const replay = await startIdempotent(deps, call, idempotencyKey);
    if (replay) return replay;
  }
  try {
    const promptTokens = await estimatePromptTokensAsync(body, model.encoding);
    const held: HeldRequest = { call, model, body, promptTokens, startedAt, idempotencyKey };
    const upstreamBody = await reserve(deps, held);
    return await forward(deps, held, provider, upstreamBody);
  } catch (error) {
    if (idempotencyKey) await deps.idempotency.abandon(call.auth.accountId, idempotencyKey);
    throw error;
  }
}

function parseBody(rawBody: string): ChatRequestBody {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  const parsed = chatRequestSchema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

function resolveModel(deps: Deps, auth: AuthContext, id: string): ChatModel {
  const model = deps.prices.chat(id);
  if (!model) throw badRequest(`The model '${id}' does not exist or has no price.`, 'model', 'model_not_found');
  if (auth.key.models && !auth.key.models.includes(id)) throw forbidden(`This API key may not use the model '${id}'.`);
  return model;
}

async function startIdempotent(deps: Deps, call: ChatCall, key: string): Promise<Response | null> {
  const start = await deps.idempotency.start(call.auth.accountId, key, fingerprintOf(call.rawBody));
  if (start.state === 'new') return null;
  if (start.state === 'mismatch') throw new ApiError(409, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request body.', 'conflict_error', 'Idempotency-Key');
  if (start.state === 'in_progress') throw new ApiError(409, 'idempotency_in_progress', 'A request with this Idempotency-Key is still in progress; retry later.', 'conflict_error', 'Idempotency-Key');
  const { response } = start;
  return new Response(Buffer.from(response.bodyBase64, 'base64'), {
    status: response.status,
    headers: { ...response.headers, 'x-tokengate-idempotent-replay': 'true' },
  });
}

/** Holds the worst case (or what the balance pays, under `clamp`) and returns the body to send upstream. */
async function reserve(deps: Deps, held: HeldRequest): Promise<Record<string, unknown>> {
  const { body, model, promptTokens, call } = held;
  const clientCap = body.max_completion_tokens ?? body.max_tokens ?? null;
  const outputCap = Math.min(clientCap ?? model.maxOutputTokens, model.maxOutputTokens);
  const { reservationPolicy } = await deps.settings.get();
  const plan = planHold(promptTokens, outputCap, model, reservationPolicy);
  // [keys] Key limits, before the hold: 429/402 with headers when refused; given back if no hold follows.
  // The lead ports these limits calls (here, in settle() and voidHold()) into the generic lifecycle.
  const admission = await deps.limits.admit(call.auth, { estimatedTokens: promptTokens + outputCap, estimatedCostTokens: plan.amountTokens });
  held.admission = admission;
  const hold = await deps.holds
    .reserve({
      accountId: call.auth.accountId,
      holdId: call.requestId,
      amountTokens: plan.amountTokens,
      minimumTokens: plan.minimumTokens,
      ttlSeconds: deps.config.HOLD_TTL_SECONDS,
    })
    .catch(async (error: unknown) => {
      await deps.limits.release(admission);
      throw error;
    });
  if (!hold.ok) {
    await deps.limits.release(admission);
    throw insufficientBalance(
      `Insufficient balance: this request needs up to ${plan.minimumTokens} tokens and ${Math.max(0, hold.availableTokens)} are available.`,
    );
  }
  const upstream: Record<string, unknown> = { ...body, model: model.upstreamModel };
  if (hold.heldTokens < plan.amountTokens) {
    // Clamp: ask for no more output than the balance pays for, in the field the client used.
    const cap = clampedOutputCap(hold.heldTokens, promptTokens, outputCap, model);
    upstream[body.max_tokens != null && body.max_completion_tokens == null ? 'max_tokens' : 'max_completion_tokens'] = cap;
  }
  return body.stream ? withIncludeUsage(upstream) : upstream;
}

async function forward(deps: Deps, held: HeldRequest, provider: ChatProvider, upstreamBody: Record<string, unknown>): Promise<Response> {
  let response: ChatResponse;
  try {
    // The provider ends its call when the client's signal fires (client gone before the answer).
    response = await provider.chat({ model: held.model, body: upstreamBody, stream: held.body.stream === true, signal: held.call.clientSignal, header: held.call.header });
  } catch (error) {
    if (held.call.clientSignal.aborted) {
      // The client left while the provider had the prompt: bill the prompt, as when it leaves mid-body.
      await settle(deps, held, { usage: estimatedUsage(held, { content: '', toolCalls: [] }), source: 'estimated', status: 'client_aborted' });
      await abandonIdempotent(deps, held);
      return new Response(null, { status: 499 }); // nobody is listening
    }
    await voidHold(deps, held);
    if (error instanceof UpstreamUnavailableError) {
      throw new ApiError(error.kind === 'timeout' ? 504 : 502, `upstream_${error.kind}`, error.message, 'upstream_error');
    }
    throw error;
  }
  return response.kind === 'buffered' ? completeBuffered(deps, held, response) : completeStream(deps, held, response);
}

/** Non-stream answers and provider errors: bill from the body's usage, answer once. */
async function completeBuffered(deps: Deps, held: HeldRequest, response: BufferedResponse): Promise<Response> {
  const { bytes } = response;
  const json = parseJsonOrNull(bytes);
  const reported = usageFromOpenAI((json as { usage?: unknown } | null)?.usage);

  if (response.status >= 400) {
    if (reported) await settle(deps, held, { usage: reported, source: 'provider', status: 'error' });
    else await voidHold(deps, held);
    // A provider error is not a result to replay: a retry with the same key runs again.
    await abandonIdempotent(deps, held);
    return jsonResponse(response.status, upstreamErrorBody(json, bytes, response.status), { ...response.passHeaders, ...held.admission?.headers });
  }
  if (json === null) {
    await voidHold(deps, held);
    throw new ApiError(502, 'upstream_malformed', 'The provider returned a body that is not JSON.', 'upstream_error');
  }
  const outcome: Outcome = reported
    ? { usage: reported, source: 'provider', status: 'ok' }
    : { usage: estimatedUsage(held, generatedFromCompletion(json)), source: 'estimated', status: 'ok' };
  const { costTokens, balanceTokens } = await settle(deps, held, outcome);
  const headers = { ...response.passHeaders, ...held.admission?.headers, 'content-type': 'application/json', 'x-tokengate-cost': String(costTokens), 'x-tokengate-balance': String(balanceTokens) };
  await rememberIdempotent(deps, held, 200, headers, bytes);
  return new Response(bytes, { status: 200, headers });
}

/**
 * Streams: the provider's bytes go to the client as they come (minus the usage chunk the client did
 * not ask for). Settlement runs once, when the stream ends, breaks or the client goes away.
 */
function completeStream(deps: Deps, held: HeldRequest, response: StreamResponse): Response {
  const meter = new OpenAIStreamMeter({ stripUsageChunk: !requestWantsUsage(held.body) });
  const { chunks } = response;
  const replayCopy: Uint8Array[] = [];
  let finished = false;
  let clientGone = false;

  const finish = async (ending: 'done' | 'client_aborted' | 'upstream_broke') => {
    if (finished) return;
    finished = true;
    const result = meter.result();
    // A stream that ends without [DONE] was cut short, even if the connection closed cleanly.
    const broken = ending === 'upstream_broke' || (ending === 'done' && !result.sawDone);
    const status: Settlement['status'] = ending === 'client_aborted' ? 'client_aborted' : broken || result.error ? 'error' : 'ok';
    const nothingGenerated = result.generated.content === '' && result.generated.toolCalls.length === 0;
    const outcome: Outcome = result.usage
      ? { usage: result.usage, source: 'provider', status }
      : result.error && nothingGenerated
        ? { usage: NO_USAGE, source: 'provider', status } // a provider error without usage or output is not billed (SPEC 3.8)
        : { usage: estimatedUsage(held, result.generated), source: 'estimated', status };
    try {
      await settle(deps, held, outcome);
      if (status === 'ok') await rememberIdempotent(deps, held, 200, streamHeaders(), Buffer.concat(replayCopy));
      else await abandonIdempotent(deps, held);
    } catch (error) {
      deps.log.error({ err: error, requestId: held.call.requestId }, 'could not settle a stream');
    }
  };

  // The "in progress" marker of an Idempotency-Key outlives any wait for an answer, but a stream may
  // run longer: refresh it now and then so a retry cannot start a second, billed run meanwhile.
  let markerRefreshedAt = Date.now();
  const keepIdempotencyAlive = () => {
    if (!held.idempotencyKey || Date.now() - markerRefreshedAt < 60_000) return;
    markerRefreshedAt = Date.now();
    deps.idempotency.extend(held.call.auth.accountId, held.idempotencyKey).catch((error: unknown) => deps.log.warn({ err: error }, 'could not extend an Idempotency-Key marker'));
  };

  const forward = (controller: ReadableStreamDefaultController<Uint8Array>, frames: Uint8Array[]) => {
    for (const frame of frames) {
      if (held.idempotencyKey) replayCopy.push(frame);
      controller.enqueue(frame);
    }
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Read until at least one whole event can be forwarded: a pull that enqueues nothing stalls.
        for (;;) {
          const next = await chunks.next();
          if (next.done) {
            // A read pending when the client left ends as done too: that is an abort, not an answer.
            if (clientGone) return await finish('client_aborted');
            forward(controller, meter.end());
            // Settle before the client sees the end, so a balance read right after already shows it.
            await finish('done');
            controller.close();
            return;
          }
          const frames = meter.push(next.value);
          keepIdempotencyAlive();
          if (frames.length > 0) return forward(controller, frames);
        }
      } catch (error) {
        await finish(clientGone || held.call.clientSignal.aborted ? 'client_aborted' : 'upstream_broke');
        controller.error(error);
      }
    },
    async cancel() {
      // The client went away: stop the provider at once (closing the iterator closes the upstream
      // response), then bill what it generated so far.
      clientGone = true;
      await chunks.return?.(undefined).catch(() => {});
      await finish('client_aborted');
    },
  });
  return new Response(body, { status: 200, headers: { ...response.passHeaders, ...held.admission?.headers, ...streamHeaders() } });
}

function streamHeaders(): Record<string, string> {
  return { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };
}

/** Output counted with tiktoken when the provider reported nothing; the prompt is our own estimate. */
function estimatedUsage(held: HeldRequest, generated: Parameters<typeof countCompletionTokens>[0]): ProviderUsage {
  return { inputTokens: held.promptTokens, cachedInputTokens: 0, outputTokens: countCompletionTokens(generated, held.model.encoding), reasoningTokens: 0 };
}

/** Captures the cost against the hold (releasing the rest) and queues the durable settlement. */
async function settle(deps: Deps, held: HeldRequest, outcome: Outcome): Promise<{ costTokens: number; balanceTokens: number }> {
  const { model, call } = held;
  const costTokens = chargeFor(outcome.usage, model);
  const settlement: Settlement = {
    requestId: call.requestId,
    accountId: call.auth.accountId,
    keyId: call.auth.key.id,
    model: model.id,
    provider: model.provider,
    operation: call.header('x-tokengate-operation')?.slice(0, 100) || null,
    inputTokens: outcome.usage.inputTokens,
    cachedInputTokens: outcome.usage.cachedInputTokens,
    outputTokens: outcome.usage.outputTokens,
    reasoningTokens: outcome.usage.reasoningTokens,
    images: 0,
    costTokens,
    rates: { input: model.input, cachedInput: model.cachedInput, output: model.output, per: 1_000_000 },
    usageSource: outcome.source,
    status: outcome.status,
    latencyMs: Date.now() - held.startedAt,
    stream: held.body.stream === true,
    createdAt: new Date(held.startedAt).toISOString(),
  };
  const { balanceTokens } = await captureServed(deps.holds, deps.db, deps.log, settlement);
  // [keys] Correct the key's token bucket and budget by what was really used.
  if (held.admission) await deps.limits.settle(held.admission, { actualTokens: outcome.usage.inputTokens + outcome.usage.outputTokens, costTokens });
  return { costTokens, balanceTokens };
}

/** [keys] Ends the hold without charge and gives the key's limits back what was taken for it. */
async function voidHold(deps: Deps, held: HeldRequest): Promise<void> {
  await deps.holds.void(held.call.auth.accountId, held.call.requestId);
  if (held.admission) await deps.limits.release(held.admission);
}

/**
 * Stores a paid answer for replays. Never throws: the answer is already billed and must reach the
 * client; if storing fails, the key stays "in progress" until it expires, so a retry gets 409 rather
 * than a second charge.
 */
async function rememberIdempotent(deps: Deps, held: HeldRequest, status: number, headers: Record<string, string>, bytes: Uint8Array): Promise<void> {
  if (!held.idempotencyKey) return;
  const stored: StoredResponse = { status, headers: { ...headers, 'x-tokengate-original-request-id': held.call.requestId }, bodyBase64: Buffer.from(bytes).toString('base64') };
  try {
    await deps.idempotency.complete(held.call.auth.accountId, held.idempotencyKey, fingerprintOf(held.call.rawBody), stored);
  } catch (error) {
    deps.log.error({ err: error, requestId: held.call.requestId }, 'could not store the response for Idempotency-Key replays');
  }
}

async function abandonIdempotent(deps: Deps, held: HeldRequest): Promise<void> {
  if (held.idempotencyKey) await deps.idempotency.abandon(held.call.auth.accountId, held.idempotencyKey);
}

function parseJsonOrNull(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}
