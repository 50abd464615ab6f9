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
  /** Request headers an adapter may honour (e.g. the mock's x-mock-* knobs). */
  headers: Headers;
}

export interface ChatResponse {
  status: number;
  /** application/json or text/event-stream */
  contentType: string;
  body: ReadableStream<Uint8Array>;
  /** Upstream headers worth passing on (e.g. openai-processing-ms, x-ratelimit-*). */
  passHeaders: Record<string, string>;
}

export interface ChatProvider {
  readonly name: string;
  chat(request: ChatRequest): Promise<ChatResponse>;
}

/** Thrown by adapters when the upstream could not be reached or timed out (no response at all). */
export class UpstreamUnavailableError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'connection',
  ) {
    super(message);
  }
}
