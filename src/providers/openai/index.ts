// OpenAI adapter: the body is already OpenAI's, so this is transport only — base URL, auth, a
// keep-alive connection pool, timeout and abort. node:http rather than fetch(): it costs a fraction of
// the CPU per call (bench/upstream-client.ts), and this runs on every request.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { ChatProvider, ChatRequest, ChatResponse, EndpointRequest, ResourceRequest } from '../types.js';
import { UpstreamDeadline } from '../upstream-deadline.js';

// Never x-ratelimit-*: they describe the operator's OpenAI account, not the client's limits.
const PASS_HEADERS = ['openai-processing-ms', 'openai-version'];

export interface OpenAIProviderOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

export class OpenAIProvider implements ChatProvider {
  readonly name = 'openai';
  private readonly base: string;
  private readonly endpoints = new Map<string, URL>();
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;

  constructor(private readonly options: OpenAIProviderOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    const secure = new URL(this.base).protocol === 'https:';
    // Idle pooled sockets are unref'd by the agent, so the pool never keeps the process alive.
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.send = secure ? https.request : http.request;
  }

  chat(request: ChatRequest): Promise<ChatResponse> {
    return this.post('/chat/completions', request);
  }

  /** The other endpoints take OpenAI's own bodies: forwarded as they are. */
  responses(request: EndpointRequest): Promise<ChatResponse> {
    return this.post('/responses', request);
  }

  embeddings(request: EndpointRequest): Promise<ChatResponse> {
    return this.post('/embeddings', request);
  }

  images(request: EndpointRequest): Promise<ChatResponse> {
    return this.post('/images/generations', request);
  }

  resource(request: ResourceRequest): Promise<ChatResponse> {
    return this.call(request.method, new URL(`${this.base}${request.path}`), null, false, request.signal);
  }

  /** POSTs go to a handful of fixed endpoints: their URLs are parsed once. */
  private post(path: string, request: { body: Record<string, unknown>; stream: boolean; signal: AbortSignal }): Promise<ChatResponse> {
    let url = this.endpoints.get(path);
    if (!url) this.endpoints.set(path, (url = new URL(`${this.base}${path}`)));
    return this.call('POST', url, JSON.stringify(request.body), request.stream, request.signal);
  }

  /**
   * The timeout bounds the wait for a whole non-stream answer, and for a stream's headers: once a
   * stream flows, it may run as long as the model writes (the client can always go away).
   */
  private async call(method: 'GET' | 'POST' | 'DELETE', url: URL, payload: string | null, stream: boolean, signal: AbortSignal): Promise<ChatResponse> {
    const call = new UpstreamCall(new UpstreamDeadline('OpenAI', this.options.timeoutMs, signal));
    try {
      const response = await call.start(
        () =>
          this.send(url, {
            method,
            agent: this.agent,
            headers: {
              authorization: `Bearer ${this.options.apiKey}`,
              ...(payload === null ? {} : { 'content-type': 'application/json' }),
              accept: stream ? 'text/event-stream' : 'application/json',
            },
          }),
        payload,
      );
      const status = response.statusCode ?? 502;
      const head = { status, passHeaders: pickHeaders(response) };
      if (status < 400 && (response.headers['content-type'] ?? '').includes('text/event-stream')) {
        call.streamStarted();
        return { ...head, kind: 'stream', chunks: response[Symbol.asyncIterator]() };
      }
      return { ...head, kind: 'buffered', bytes: await readAll(response) };
    } catch (error) {
      throw call.explain(error);
    }
  }
}

/**
 * One upstream request's abort wiring: the deadline (client gone, or our timeout) destroys the
 * request, but only while its response is unfinished — a finished response's socket is back in the
 * keep-alive pool, possibly serving another request, and must not be touched.
 */
export class UpstreamCall {
  private request: http.ClientRequest | undefined;
  private response: IncomingMessage | undefined;
  private finished = false;
  private readonly onAbort = () => this.abort();

  constructor(private readonly deadline: UpstreamDeadline) {
    deadline.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  start(open: () => http.ClientRequest, payload: string | null): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (this.deadline.callerAborted) return reject(new Error('the client went away before the upstream call'));
      const request = open();
      this.request = request;
      request.on('error', (error) => {
        this.finish();
        reject(error); // a no-op once the response arrived: its stream reports the failure then
      });
      request.once('response', (response) => {
        this.response = response;
        response.once('end', () => this.finish());
        response.once('close', () => this.finish());
        resolve(response);
      });
      if (payload === null) request.end();
      else request.end(payload);
    });
  }

  streamStarted(): void {
    this.deadline.streamStarted();
  }

  /** The client's own abort passes through; our timeout and network failures become upstream errors. */
  explain(error: unknown): unknown {
    this.finish();
    return this.deadline.explain(error);
  }

  // Destroyed without an error object: an error would be re-emitted on the socket, which may no
  // longer have its request's listeners. The reader of the response sees a premature close.
  private abort(): void {
    if (this.finished) return;
    if (this.response) this.response.destroy();
    else this.request?.destroy();
  }

  private finish(): void {
    this.finished = true;
    this.deadline.signal.removeEventListener('abort', this.onAbort);
    this.deadline.dispose();
  }
}

export async function readAll(response: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function pickHeaders(response: IncomingMessage): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of PASS_HEADERS) {
    const value = response.headers[name];
    if (typeof value === 'string') picked[name] = value;
  }
  return picked;
}
