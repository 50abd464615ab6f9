// OpenAI adapter: the body is already OpenAI's, so this is transport only — base URL, auth, keep-alive
// (Node's fetch pools connections per origin), timeout and abort.
import type { ChatProvider, ChatRequest, ChatResponse } from '../types.js';
import { UpstreamUnavailableError } from '../types.js';

const PASS_HEADERS = ['openai-processing-ms', 'openai-version', 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens'];

export interface OpenAIProviderOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

export class OpenAIProvider implements ChatProvider {
  readonly name = 'openai';
  private readonly endpoint: string;

  constructor(private readonly options: OpenAIProviderOptions) {
    this.endpoint = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  /**
   * The timeout bounds the wait for a whole non-stream answer, and for a stream's headers: once a
   * stream flows, it may run as long as the model writes (the client can always go away).
   */
  async chat(request: ChatRequest): Promise<ChatResponse> {
    // One controller for both causes. (AbortSignal.any would do, but its composite signal is only
    // weakly held by its sources, and a long stream must not lose its abort to garbage collection.)
    const upstream = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), upstream.abort()), this.options.timeoutMs);
    const onClientAbort = () => upstream.abort();
    request.signal.addEventListener('abort', onClientAbort, { once: true });
    if (request.signal.aborted) upstream.abort();
    const signal = upstream.signal;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          'content-type': 'application/json',
          accept: request.stream ? 'text/event-stream' : 'application/json',
        },
        body: JSON.stringify(request.body),
        signal,
      });
      const isStream = (response.headers.get('content-type') ?? '').includes('text/event-stream');
      // Non-stream bodies are read here, under the timeout; streams are handed on as they flow.
      const body = isStream || !response.body ? response.body : new Blob([await response.arrayBuffer()]).stream();
      return {
        status: response.status,
        contentType: response.headers.get('content-type') ?? 'application/json',
        body: body ?? new Blob([]).stream(),
        passHeaders: pickHeaders(response.headers),
      };
    } catch (error) {
      if (request.signal.aborted) throw error;
      if (timedOut) throw new UpstreamUnavailableError(`OpenAI did not answer within ${this.options.timeoutMs} ms.`, 'timeout');
      throw new UpstreamUnavailableError(`Could not reach OpenAI: ${describeFetchError(error)}`, 'connection');
    } finally {
      clearTimeout(timer);
    }
  }
}

function pickHeaders(headers: Headers): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of PASS_HEADERS) {
    const value = headers.get(name);
    if (value !== null) picked[name] = value;
  }
  return picked;
}

function describeFetchError(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
}
