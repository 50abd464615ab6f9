// The contract between the metered-call lifecycle and one kind of operation (chat, responses,
// embeddings, images). The lifecycle does idempotency, hold, forward, abort, estimate and settlement
// the same way for every kind; an operation only says what its request costs at worst, how to call
// the provider, and how to read usage from what came back.
import type { AuthContext } from '../../http/context.js';
import type { ClientConnection } from './client-connection.js';
import type { ChatResponse as ProviderResponse } from '../../providers/types.js';
import type { JsonObject } from '../../metering/guards.js';

/** What one request used, in the units its price model bills. Cached and reasoning are subsets. */
export interface MeteredUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  images: number;
  /**
   * Calls of built-in tools the provider bills per call, by tool (e.g. `{ web_search: 2 }`); absent
   * for operations without tools. Recorded with the usage row (usage_events.tool_calls).
   */
  toolCalls?: Readonly<Record<string, number>>;
}

export const NO_USAGE: MeteredUsage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, images: 0 };

/** The HTTP request as the lifecycle sees it (routes build it from the Hono context). */
export interface MeteredRequest {
  requestId: string;
  auth: AuthContext;
  rawBody: string;
  header(name: string): string | undefined;
  /** Whether the client went away. The upstream call does not follow it blindly: see drain. */
  client: ClientConnection;
  /** performance.now() when the request arrived (the gateway overhead metric starts there). */
  receivedAt?: number;
}

/** The hold an operation asks for before calling the provider (SPEC 3.4). */
export interface HoldRequestPlan {
  /** Worst case: everything the request may cost. */
  amountTokens: number;
  /** The least hold it can run on (equal to amountTokens when it cannot be clamped). */
  minimumTokens: number;
  /** Provider tokens it may use at worst (input + output cap), for the key's tokens-per-minute limit. */
  estimatedTokens?: number;
  /**
   * The prompt was sized by a cheap upper bound (UTF-8 bytes), not counted: the plan is at least the
   * exact one. When it does not fit the balance, the lifecycle asks again with `'exact'`.
   */
  bound?: boolean;
}

/** What a stream meter learned from the bytes so far. */
export interface StreamReading {
  /** Usage the provider reported (the last report wins). */
  usage: MeteredUsage | null;
  /** The provider ended the stream normally (OpenAI's `data: [DONE]`, `response.completed`). */
  completed: boolean;
  /** An error object the provider sent inside the stream. */
  error: JsonObject | null;
  /** Whether any output was generated (text, tool calls), for billing a stream that broke. */
  generatedOutput: boolean;
}

/** Passes a provider's SSE bytes to the client (possibly altered) while reading usage from them. */
export interface StreamMeter {
  /** Feeds upstream bytes; returns what to forward to the client now. */
  push(chunk: Uint8Array): Uint8Array[];
  /** The upstream ended: whatever was held back. */
  end(): Uint8Array[];
  reading(): StreamReading;
}

/**
 * One metered operation of one request, after validation: model resolved, body parsed. Created per
 * request by the route's operation module (src/proxy/*), run by runMeteredCall.
 */
export interface MeteredOperation {
  /** The price-table model: recorded with the usage row. */
  model: { id: string; provider: string };
  /** The operation recorded when the client sends no `x-tokengate-operation` header (e.g. 'image'). */
  defaultOperation: string | null;
  stream: boolean;
  /** Rates as billed, stored with the usage row so a price change never rewrites history. */
  rates: Record<string, unknown>;
  /**
   * The rates of one usage, for operations whose basis depends on what came back (images: per image,
   * or from the tokens the provider reported). Without it, `rates` is recorded.
   */
  ratesFor?(usage: MeteredUsage): Record<string, unknown>;
  /** Billing tokens for a usage, rounded once (SPEC 1). */
  costOf(usage: MeteredUsage): number;
  /**
   * The hold to take; may count tokens (async, off the event loop for large inputs). With `'bound'`
   * an operation may size a short prompt by a cheap upper bound instead of counting it (plan.bound).
   */
  planHold(policy: 'clamp' | 'reject', precision?: 'bound' | 'exact'): Promise<HoldRequestPlan>;
  /** Calls the provider with what the hold pays for (a clamped output cap when it is less than the worst case). */
  forward(heldTokens: number, signal: AbortSignal): Promise<ProviderResponse>;
  /** Usage in a whole (non-stream) answer, or null when the provider reported none. */
  usageFromBody(json: unknown): MeteredUsage | null;
  /** Usage counted from a whole answer that carried none. */
  estimateFromBody(json: unknown): MeteredUsage;
  /** A meter for the answer's stream (one per call; the operation keeps it for estimateFromStream). */
  streamMeter(): StreamMeter;
  /** Usage counted from what the stream generated so far, when the provider reported none. */
  estimateFromStream(): MeteredUsage;
  /** An event that tells a client still reading that its stream failed (the wire format's own error event). */
  streamError(code: string, message: string): Uint8Array;
  /** The provider had the request but we never saw its answer (drain ran out): bill what it surely used. */
  estimateWithoutAnswer(): MeteredUsage;
}
