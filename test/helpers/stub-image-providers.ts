// Stubs of the two image APIs the gateway calls, on random local ports, each answering only its real
// route and auth: OpenAI's `POST /images/generations` (Bearer key) and Google's Gemini API
// `POST /v1beta/models/{model}:predict` and `:generateContent` (`x-goog-api-key`), errors in each
// one's format. Answers are scripted by the test; every request is recorded to check the translation.
// The builders below write each API's answer shapes (OpenAI's ImagesResponse, Imagen's predictions,
// GenerateContentResponse, google.rpc.Status errors).
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ImageScript =
  /** A JSON body with the given status, sent once `after` resolves (if given). */
  { status?: number; body: unknown; after?: Promise<unknown> };

export interface RecordedImageRequest {
  path: string;
  /** Google: the `{model}` of the path; OpenAI: the body's model. */
  model: string;
  /** Google: `predict` or `generateContent`; OpenAI: `generations`. */
  method: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface StubImageProvider {
  url: string;
  apiKey: string;
  requests: RecordedImageRequest[];
  enqueue(...scripts: ImageScript[]): void;
  waitForRequests(count: number): Promise<void>;
  reset(): void;
  stop(): Promise<void>;
}

type Flavor = 'openai' | 'google';

export const PNG_BYTES = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

export function startStubOpenAIImages(): Promise<StubImageProvider> {
  return startStub('openai', 'sk-images-stub');
}

export function startStubGoogleImages(): Promise<StubImageProvider> {
  return startStub('google', 'AIza-images-stub');
}

async function startStub(flavor: Flavor, apiKey: string): Promise<StubImageProvider> {
  const requests: RecordedImageRequest[] = [];
  let queue: ImageScript[] = [];
  let waiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
    } catch {
      return send(res, 400, flavor === 'google' ? googleError(400, 'Invalid JSON payload received.', 'INVALID_ARGUMENT') : openAIImageError('We could not parse the JSON body of your request.', 'invalid_request_error', null));
    }
    const route = routeOf(flavor, req, body);
    if (!route) {
      return send(res, 404, flavor === 'google' ? googleError(404, `stub: no route ${req.method} ${req.url}`, 'NOT_FOUND') : openAIImageError(`stub: no route ${req.method} ${req.url}`, 'invalid_request_error', null));
    }
    const authorized = flavor === 'google' ? req.headers['x-goog-api-key'] === apiKey : req.headers.authorization === `Bearer ${apiKey}`;
    if (!authorized) {
      return send(res, flavor === 'google' ? 400 : 401, flavor === 'google' ? googleError(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }]) : openAIImageError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'));
    }
    requests.push({ path: req.url ?? '', ...route, headers: req.headers, body });
    waiters = waiters.filter((w) => (requests.length >= w.count ? (w.resolve(), false) : true));
    const script = queue.shift();
    if (!script) return send(res, 500, flavor === 'google' ? googleError(500, 'stub: nothing scripted', 'INTERNAL') : openAIImageError('stub: nothing scripted', 'server_error', null));
    if (script.after) await script.after;
    if (!res.destroyed) send(res, script.status ?? 200, script.body);
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

function routeOf(flavor: Flavor, req: IncomingMessage, body: Record<string, unknown>): { model: string; method: string } | null {
  if (req.method !== 'POST') return null;
  if (flavor === 'openai') return req.url === '/images/generations' ? { model: String(body.model), method: 'generations' } : null;
  const match = /^\/v1beta\/models\/([^/:]+):(predict|generateContent)$/.exec(req.url ?? '');
  return match ? { model: decodeURIComponent(match[1]!), method: match[2]! } : null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

// --- OpenAI -----------------------------------------------------------------------------------

export interface OpenAIImageUsage {
  input_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  output_tokens: number;
  total_tokens: number;
}

/** An ImagesResponse: `images` entries as b64_json (gpt-image-1) or url (dall-e), usage when given. */
export function openAIImages(images: number, options: { url?: boolean; usage?: OpenAIImageUsage; size?: string; quality?: string } = {}): Record<string, unknown> {
  return {
    created: 1_760_000_000,
    data: Array.from({ length: images }, (_, i) => (options.url ? { url: `https://oaidalleapiprodscus.blob.core.windows.net/private/img-${i}.png`, revised_prompt: 'A revised prompt.' } : { b64_json: PNG_BYTES })),
    ...(options.size ? { size: options.size } : {}),
    ...(options.quality ? { quality: options.quality } : {}),
    ...(options.usage ? { usage: options.usage, output_format: 'png', background: 'opaque' } : {}),
  };
}

export function openAIImageUsage(text: number, image: number, output: number): OpenAIImageUsage {
  return { input_tokens: text + image, input_tokens_details: { text_tokens: text, image_tokens: image }, output_tokens: output, total_tokens: text + image + output };
}

export function openAIImageError(message: string, type: string, code: string | null, param: string | null = null): Record<string, unknown> {
  return { error: { message, type, param, code } };
}

// --- Google -----------------------------------------------------------------------------------

/** Imagen's predict answer: each entry an image, or `{filtered: reason}` for one its filters withheld. */
export function imagenPredictions(entries: ({ mimeType?: string } | { filtered: string })[]): Record<string, unknown> {
  return {
    predictions: entries.map((entry) => ('filtered' in entry ? { raiFilteredReason: entry.filtered } : { bytesBase64Encoded: PNG_BYTES, mimeType: entry.mimeType ?? 'image/png' })),
  };
}

export interface GeminiUsageMetadata {
  promptTokenCount: number;
  candidatesTokenCount?: number;
  totalTokenCount: number;
  promptTokensDetails: { modality: string; tokenCount: number }[];
  candidatesTokensDetails?: { modality: string; tokenCount: number }[];
}

export function geminiImageUsage(promptTokens: number, imageTokens: number): GeminiUsageMetadata {
  return {
    promptTokenCount: promptTokens,
    ...(imageTokens > 0 ? { candidatesTokenCount: imageTokens, candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: imageTokens }] } : {}),
    totalTokenCount: promptTokens + imageTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
  };
}

/** A GenerateContentResponse carrying one image as an inlineData part (or none, with `finishReason`). */
export function geminiImageResponse(options: { image?: boolean; finishReason?: string; usage?: GeminiUsageMetadata | null }): Record<string, unknown> {
  const parts = options.image === false ? [] : [{ inlineData: { mimeType: 'image/png', data: PNG_BYTES } }];
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: options.finishReason ?? 'STOP', index: 0 }],
    ...(options.usage === null ? {} : { usageMetadata: options.usage ?? geminiImageUsage(8, 1290) }),
    modelVersion: 'gemini-2.5-flash-image',
    responseId: 'stubImage0001',
  };
}

/** A blocked prompt: HTTP 200, `promptFeedback.blockReason`, no candidates. */
export function geminiBlockedPrompt(reason: string, usage: GeminiUsageMetadata | null): Record<string, unknown> {
  return { promptFeedback: { blockReason: reason }, ...(usage ? { usageMetadata: usage } : {}), modelVersion: 'gemini-2.5-flash-image', responseId: 'stubBlocked01' };
}

/** google.rpc.Status as the Gemini API sends it. */
export function googleError(code: number, message: string, status: string, details: Record<string, unknown>[] = []): Record<string, unknown> {
  return { error: { code, message, status, ...(details.length > 0 ? { details } : {}) } };
}

export function retryInfo(delay: string): Record<string, unknown> {
  return { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay };
}
