// A stub of Google's Gemini API (generativelanguage.googleapis.com) on a random local port, speaking
// its wire format: POST /v1beta/models/{model}:generateContent and
// :streamGenerateContent?alt=sse, the key in `x-goog-api-key`, camelCase JSON, SSE events separated by
// CRLF CRLF, and errors as {"error":{code,message,status,details}}; and the embedding methods
// :embedContent ({content, outputDimensionality} -> {embedding: {values}}) and :batchEmbedContents
// ({requests: [{model: "models/{model}", content, ...}]} -> {embeddings: [{values}]}, at most 100
// requests), which report no token counts. Each answer is scripted by the test (embeddings default
// to deterministic vectors of outputDimensionality, else 3072, values); every request is recorded so
// tests can assert the translation.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface UsageMetadata {
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
}

export type GeminiScript =
  /** A JSON body (a GenerateContentResponse or a Google error) with the given status. */
  | { kind: 'json'; status?: number; body: unknown }
  /** SSE: headers at once, then each event as one `data:` line (the first after `firstAfterMs`), then the end. */
  | { kind: 'stream'; events: unknown[]; everyMs?: number; firstAfterMs?: number; pauseBefore?: { index: number; until: Promise<void> } }
  /** Never answers; the request is recorded and the connection stays open until the peer closes it. */
  | { kind: 'silent' };

export type GeminiScripter = (request: RecordedGeminiRequest) => GeminiScript;

export type GeminiMethod = 'generateContent' | 'streamGenerateContent' | 'embedContent' | 'batchEmbedContents';

export interface RecordedGeminiRequest {
  path: string;
  model: string;
  method: GeminiMethod;
  stream: boolean;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** Resolves when the connection for this request closed; `byPeer` is true if it closed before the answer ended. */
  closed: Promise<{ byPeer: boolean }>;
}

export interface StubGemini {
  url: string;
  apiKey: string;
  requests: RecordedGeminiRequest[];
  enqueue(...scripts: (GeminiScript | GeminiScripter)[]): void;
  waitForRequests(count: number): Promise<void>;
  reset(): void;
  stop(): Promise<void>;
}

export function usageMetadata(prompt: number, candidates: number, extra: { thoughts?: number; cached?: number } = {}): UsageMetadata {
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    ...(extra.cached !== undefined ? { cachedContentTokenCount: extra.cached } : {}),
    ...(extra.thoughts !== undefined ? { thoughtsTokenCount: extra.thoughts } : {}),
    totalTokenCount: prompt + candidates + (extra.thoughts ?? 0),
  };
}

export interface FunctionCallPart {
  name: string;
  args: Record<string, unknown>;
}

/** A GenerateContentResponse with one candidate. */
export function geminiResponse(options: { text?: string; calls?: FunctionCallPart[]; finishReason?: string | null; usage?: UsageMetadata | null; responseId?: string }): Record<string, unknown> {
  const parts = [...(options.text !== undefined ? [{ text: options.text }] : []), ...(options.calls ?? []).map((call) => ({ functionCall: call }))];
  return {
    candidates: [
      {
        content: { role: 'model', parts },
        ...(options.finishReason === null ? {} : { finishReason: options.finishReason ?? 'STOP' }),
        index: 0,
      },
    ],
    ...(options.usage === null ? {} : { usageMetadata: options.usage ?? usageMetadata(10, 5) }),
    modelVersion: 'gemini-2.5-flash',
    responseId: options.responseId ?? 'stubResponse0001',
  };
}

/** The events Gemini streams for a text answer: every event carries usage so far, the last one the finish reason. */
export function textEvents(pieces: string[], usage: UsageMetadata): Record<string, unknown>[] {
  return pieces.map((text, i) => {
    const last = i === pieces.length - 1;
    const event = geminiResponse({ text, finishReason: last ? 'STOP' : null, usage: last ? usage : { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount } });
    return event;
  });
}

export function googleError(code: number, status: string, message: string, details: unknown[] = []): GeminiScript {
  return { kind: 'json', status: code, body: { error: { code, message, status, ...(details.length > 0 ? { details } : {}) } } };
}

const ROUTE = /^\/v1beta\/models\/([^/:?]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)(\?.*)?$/;

/** Google's default embedding size (gemini-embedding-001). */
export const DEFAULT_EMBEDDING_DIMENSIONS = 3072;

/** A deterministic embedding (values exact in float32, so base64 round-trips to the same numbers). */
export function embeddingValues(index: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) => (((index + 1) * (i + 1)) % 64) / 16 - 2);
}

const dimensionsOf = (request: unknown) => {
  const value = (request as { outputDimensionality?: unknown } | null)?.outputDimensionality;
  return typeof value === 'number' ? value : DEFAULT_EMBEDDING_DIMENSIONS;
};

/** What Google answers an embedding request with: one vector per text, no usage. */
export function embedAnswer(request: RecordedGeminiRequest): GeminiScript {
  if (request.method === 'embedContent') return { kind: 'json', body: { embedding: { values: embeddingValues(0, dimensionsOf(request.body)) } } };
  const requests = request.body.requests as unknown[];
  return { kind: 'json', body: { embeddings: requests.map((item, index) => ({ values: embeddingValues(index, dimensionsOf(item)) })) } };
}

const defaultScripter: GeminiScripter = (request) => {
  if (request.method === 'embedContent' || request.method === 'batchEmbedContents') return embedAnswer(request);
  return request.stream ? { kind: 'stream', events: textEvents(['Hello', ' from Gemini.'], usageMetadata(10, 5)) } : { kind: 'json', body: geminiResponse({ text: 'Hello from Gemini.' }) };
};

/** Google's own checks of an embedding request's shape: a 400 INVALID_ARGUMENT message, or null. */
function invalidEmbedRequest(model: string, method: GeminiMethod, body: Record<string, unknown>): string | null {
  const hasText = (content: unknown) => Array.isArray((content as { parts?: unknown } | null)?.parts);
  if (method === 'embedContent') return hasText(body.content) ? null : '* EmbedContentRequest.content: content is required';
  if (method !== 'batchEmbedContents') return null;
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) return '* BatchEmbedContentsRequest.requests: requests is required';
  if (requests.length > 100) return '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch';
  for (const item of requests as { model?: unknown; content?: unknown }[]) {
    if (item.model !== `models/${model}`) return `* BatchEmbedContentsRequest.requests[].model: the model in each request must match the batch's model (models/${model})`;
    if (!hasText(item.content)) return '* BatchEmbedContentsRequest.requests[].content: content is required';
  }
  return null;
}

export async function startStubGemini(apiKey = 'gemini-test-key'): Promise<StubGemini> {
  const requests: RecordedGeminiRequest[] = [];
  let queue: (GeminiScript | GeminiScripter)[] = [];
  const sockets = new Set<Socket>();
  let waiters: { count: number; resolve: () => void }[] = [];

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const route = ROUTE.exec(req.url ?? '');
    if (req.method !== 'POST' || !route) {
      send(res, 404, { error: { code: 404, message: `stub: no route ${req.method} ${req.url}`, status: 'NOT_FOUND' } });
      return;
    }
    if (req.headers['x-goog-api-key'] !== apiKey) {
      const details = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }];
      send(res, 400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details } });
      return;
    }
    const method = route[2] as GeminiMethod;
    const stream = method === 'streamGenerateContent';
    if (stream && new URLSearchParams(route[3]?.slice(1) ?? '').get('alt') !== 'sse') {
      send(res, 400, { error: { code: 400, message: 'stub: streams are only served as SSE (alt=sse)', status: 'INVALID_ARGUMENT' } });
      return;
    }
    const recorded: RecordedGeminiRequest = {
      path: req.url ?? '',
      model: decodeURIComponent(route[1]!),
      method,
      stream,
      headers: req.headers,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      closed: new Promise((resolve) => res.once('close', () => resolve({ byPeer: !res.writableFinished }))),
    };
    requests.push(recorded);
    waiters = waiters.filter((w) => (requests.length >= w.count ? (w.resolve(), false) : true));
    const invalid = invalidEmbedRequest(recorded.model, method, recorded.body);
    if (invalid) {
      send(res, 400, { error: { code: 400, message: invalid, status: 'INVALID_ARGUMENT' } });
      return;
    }

    const next = queue.shift() ?? defaultScripter;
    const script = typeof next === 'function' ? next(recorded) : next;
    switch (script.kind) {
      case 'json':
        send(res, script.status ?? 200, script.body);
        return;
      case 'silent':
        return;
      case 'stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        if (script.firstAfterMs) await new Promise((resolve) => setTimeout(resolve, script.firstAfterMs));
        for (const [index, event] of script.events.entries()) {
          if (script.pauseBefore?.index === index) await script.pauseBefore.until;
          if (res.destroyed) return;
          res.write(`data: ${JSON.stringify(event)}\r\n\r\n`);
          if (script.everyMs) await new Promise((resolve) => setTimeout(resolve, script.everyMs));
        }
        res.end();
        return;
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    enqueue: (...scripts) => queue.push(...scripts),
    waitForRequests: (count) => (requests.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))),
    reset: () => {
      requests.length = 0;
      queue = [];
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
