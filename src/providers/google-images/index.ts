// Google image generation behind OpenAI's POST /images/generations: Imagen (`:predict`) and Gemini
// image output (`:generateContent`), called over HTTP with `x-goog-api-key` (GEMINI_API_KEY,
// GEMINI_BASE_URL). Not through @google/genai: its 2.x generateImages refuses an API key outside
// Vertex. Timeouts and aborts are every adapter's (UpstreamDeadline), through the OpenAI adapter's
// node:http wiring (UpstreamCall). One client request is exactly one Google request, never retried.
import http from 'node:http';
import https from 'node:https';
import { readAll, UpstreamCall } from '../openai/index.js';
import { UpstreamDeadline } from '../upstream-deadline.js';
import type { ChatProvider, ChatResponse, EndpointRequest } from '../types.js';
import { mapGoogleImageError, type ImageErrorAnswer } from './errors.js';
import { geminiImage } from './gemini-image.js';
import { imagen } from './imagen.js';
import { googleImageOptions } from './options.js';
import type { ImageTranslation } from './translation.js';

export interface GoogleImagesOptions {
  /** GEMINI_BASE_URL: the API root, without `/v1beta`; Google's own when unset. */
  baseUrl?: string;
  apiKey: string;
  timeoutMs: number;
}

const GOOGLE_API = 'https://generativelanguage.googleapis.com';
const encoder = new TextEncoder();

export class GoogleImages {
  private readonly base: string;
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;

  constructor(private readonly options: GoogleImagesOptions) {
    this.base = `${(options.baseUrl ?? GOOGLE_API).replace(/\/+$/, '')}/v1beta/models/`;
    const secure = new URL(this.base).protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.send = secure ? https.request : http.request;
  }

  /** An OpenAI image generation body in, an OpenAI `ImagesResponse` (or error) out, as bytes. */
  async images(request: EndpointRequest): Promise<ChatResponse> {
    const model = request.model.upstreamModel;
    // Google's own split: Imagen models predict, Gemini models generate content.
    const translation: ImageTranslation = model.startsWith('imagen-') ? imagen : geminiImage;
    const planned = googleImageOptions(request.body, translation.abilities);
    if (!planned.ok) return errorResponse(planned.error, {}); // refused here: Google is never called
    const { options } = planned;
    const passHeaders: Record<string, string> = options.ignored.length > 0 ? { 'x-tokengate-ignored-params': options.ignored.join(', ') } : {};

    const url = new URL(`${this.base}${encodeURIComponent(model)}:${translation.method}`);
    const { status, bytes } = await this.post(url, JSON.stringify(translation.request(options)), request.signal);
    const json = parseJson(bytes);
    if (status >= 400) return errorResponse(mapGoogleImageError(status, Buffer.from(bytes).toString('utf8'), model), passHeaders);
    // Not JSON: the lifecycle answers 502 upstream_malformed and bills nothing.
    if (json === undefined) return { kind: 'buffered', status, passHeaders, bytes };

    const answer = translation.answer(json, options);
    if (answer.kind === 'error') return errorResponse(answer.error, passHeaders);
    if (answer.filtered > 0) passHeaders['x-tokengate-images-filtered'] = String(answer.filtered);
    return { kind: 'buffered', status: 200, passHeaders, bytes: encoder.encode(JSON.stringify(answer.body)) };
  }

  private async post(url: URL, payload: string, signal: AbortSignal): Promise<{ status: number; bytes: Uint8Array }> {
    const call = new UpstreamCall(new UpstreamDeadline('Google', this.options.timeoutMs, signal));
    try {
      const response = await call.start(
        () =>
          this.send(url, {
            method: 'POST',
            agent: this.agent,
            headers: { 'x-goog-api-key': this.options.apiKey, 'content-type': 'application/json', accept: 'application/json' },
          }),
        payload,
      );
      return { status: response.statusCode ?? 502, bytes: await readAll(response) };
    } catch (error) {
      throw call.explain(error);
    }
  }
}

/** Gives a provider Google's image generation as its `images` endpoint. */
export function withImages<P extends ChatProvider>(provider: P, images: GoogleImages): P {
  return Object.assign(provider, { images: (request: EndpointRequest) => images.images(request) });
}

function errorResponse(error: ImageErrorAnswer, passHeaders: Record<string, string>): ChatResponse {
  return { kind: 'buffered', status: error.status, passHeaders: { ...passHeaders, ...error.headers }, bytes: encoder.encode(JSON.stringify(error.body)) };
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}
