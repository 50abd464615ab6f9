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

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          'content-type': 'application/json',
          accept: request.stream ? 'text/event-stream' : 'application/json',
        },
        body: JSON.stringify(request.body),
        signal: AbortSignal.any([request.signal, timeout]),
      });
    } catch (error) {
      if (request.signal.aborted) throw error;
      if (timeout.aborted) throw new UpstreamUnavailableError(`OpenAI did not answer within ${this.options.timeoutMs} ms.`, 'timeout');
      throw new UpstreamUnavailableError(`Could not reach OpenAI: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`, 'connection');
    }
    const passHeaders: Record<string, string> = {};
    for (const name of PASS_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) passHeaders[name] = value;
    }
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? 'application/json',
      body: response.body ?? new ReadableStream({ start: (c) => c.close() }),
      passHeaders,
    };
  }
}
