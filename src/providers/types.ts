// The provider adapter contract: the proxy core sends an OpenAI-format chat body and gets back the
// provider's answer as OpenAI-format bytes (JSON, or SSE when streaming). It knows no provider by name.
import type { ChatModel } from '../billing/price-table.js';

export interface ChatRequest {
  model: ChatModel;
  /** OpenAI chat completion body, already carrying the upstream model name and any clamped cap. */
  body: Record<string, unknown>;
  stream: boolean;
  /** Aborts the upstream call: client gone, timeout or shutdown. */
  signal: AbortSignal;
  /** Reads a request header an adapter may honour (e.g. the mock's x-mock-* knobs). */
  header(name: string): string | undefined;
}

interface ChatResponseHead {
  status: number;
  /**
   * Headers for the client: the provider's own that are safe to show (e.g. openai-processing-ms; never
   * x-ratelimit-*, which describe the operator's provider account) and the adapter's
   * (x-tokengate-ignored-params).
   */
  passHeaders: Record<string, string>;
}

/**
 * A whole answer (JSON, or an error in any format) as bytes, or an SSE stream as it arrives. Streams
 * are plain async iterators, not web streams: they cost less per chunk, and `return()` closes the
 * upstream at once when the client goes away.
 */
export type ChatResponse =
  | (ChatResponseHead & { kind: 'buffered'; bytes: Uint8Array })
  | (ChatResponseHead & { kind: 'stream'; chunks: AsyncIterator<Uint8Array, unknown, undefined> });

/**
 * A request to one of the other OpenAI endpoints (Responses, embeddings, images), in OpenAI's format.
 * `model` is the price-table entry; `body` already carries the upstream model name.
 */
export interface EndpointRequest {
  model: { id: string; provider: string; upstreamModel: string };
  body: Record<string, unknown>;
  stream: boolean;
  signal: AbortSignal;
  header(name: string): string | undefined;
}

/** A plain call without a body (GET or DELETE of a stored resource, e.g. a response by id). */
export interface ResourceRequest {
  method: 'GET' | 'DELETE';
  /** Path below the provider's base URL, with its query string, e.g. `/responses/resp_1/input_items?limit=20`. */
  path: string;
  signal: AbortSignal;
}

/**
 * How a provider that serves the Responses API by translation, and keeps nothing, says so (Gemini).
 * Its responses are never stored: they cannot be read, deleted or continued, and the gateway records
 * no owner for them.
 */
export interface StatelessResponses {
  /**
   * Checks a Responses body before anything is held: throws an ApiError (400) for what needs stored
   * state (previous_response_id, store: true, item_reference) or cannot be translated.
   */
  check(body: Record<string, unknown>): void;
  /** Whether an id names one of its responses, so reading it is a clear 400 rather than a 404. */
  ownsResponseId(id: string): boolean;
}

/**
 * A provider adapter. Every adapter serves chat; the other endpoints are optional, and a route whose
 * endpoint a model's provider lacks answers 400 rather than forwarding somewhere wrong.
 */
export interface ChatProvider {
  readonly name: string;
  chat(request: ChatRequest): Promise<ChatResponse>;
  responses?(request: EndpointRequest): Promise<ChatResponse>;
  /** Present when `responses` is a stateless translation; absent when the provider stores responses (OpenAI). */
  readonly statelessResponses?: StatelessResponses;
  embeddings?(request: EndpointRequest): Promise<ChatResponse>;
  images?(request: EndpointRequest): Promise<ChatResponse>;
  resource?(request: ResourceRequest): Promise<ChatResponse>;
}

/**
 * Thrown by adapters when the upstream could not be reached or timed out (no response at all).
 * `message` is safe to show a client (it names the provider, never an address or an errno);
 * `detail` is what happened underneath, for the gateway's log only.
 */
export class UpstreamUnavailableError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'connection',
    readonly detail: string = message,
  ) {
    super(message);
  }
}
