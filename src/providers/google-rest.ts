// Google's Gemini API over plain HTTP, for the methods the gateway calls without @google/genai (image
// generation, embeddings): POST /v1beta/models/{model}:{method} with `x-goog-api-key` (GEMINI_API_KEY,
// GEMINI_BASE_URL) on a keep-alive pool. Timeouts and aborts are every adapter's (UpstreamDeadline),
// through the OpenAI adapter's node:http wiring (UpstreamCall). One call is one Google request, never
// retried.
import http from 'node:http';
import https from 'node:https';
import { readAll, UpstreamCall } from './openai/index.js';
import { UpstreamDeadline } from './upstream-deadline.js';

export interface GoogleRestOptions {
  /** GEMINI_BASE_URL: the API root, without `/v1beta`; Google's own when unset. */
  baseUrl?: string;
  apiKey: string;
  timeoutMs: number;
}

const GOOGLE_API = 'https://generativelanguage.googleapis.com';

export class GoogleRest {
  private readonly base: string;
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;

  constructor(
    private readonly options: GoogleRestOptions,
    /** The provider as clients know it, for timeout and connection messages. */
    private readonly label: string,
  ) {
    this.base = `${(options.baseUrl ?? GOOGLE_API).replace(/\/+$/, '')}/v1beta/models/`;
    const secure = new URL(this.base).protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.send = secure ? https.request : http.request;
  }

  /** One JSON POST to `models/{model}:{method}`: Google's status and body, whatever they are. */
  async post(model: string, method: string, payload: unknown, signal: AbortSignal): Promise<{ status: number; bytes: Uint8Array }> {
    const url = new URL(`${this.base}${encodeURIComponent(model)}:${method}`);
    const call = new UpstreamCall(new UpstreamDeadline(this.label, this.options.timeoutMs, signal));
    try {
      const response = await call.start(
        () =>
          this.send(url, {
            method: 'POST',
            agent: this.agent,
            headers: { 'x-goog-api-key': this.options.apiKey, 'content-type': 'application/json', accept: 'application/json' },
          }),
        JSON.stringify(payload),
      );
      return { status: response.statusCode ?? 502, bytes: await readAll(response) };
    } catch (error) {
      throw call.explain(error);
    }
  }
}
