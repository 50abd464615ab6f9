// Google image generation behind OpenAI's POST /images/generations: Imagen (`:predict`) and Gemini
// image output (`:generateContent`), called over HTTP with `x-goog-api-key` (GEMINI_API_KEY,
// GEMINI_BASE_URL; see ../google-rest.ts). Not through @google/genai: its 2.x generateImages refuses
// an API key outside Vertex. One client request is exactly one Google request, never retried.
import { GoogleRest, type GoogleRestOptions } from '../google-rest.js';
import type { ChatProvider, ChatResponse, EndpointRequest } from '../types.js';
import { mapGoogleImageError, type ImageErrorAnswer } from './errors.js';
import { geminiImage } from './gemini-image.js';
import { imagen } from './imagen.js';
import { googleImageOptions } from './options.js';
import type { ImageTranslation } from './translation.js';

export type GoogleImagesOptions = GoogleRestOptions;

const encoder = new TextEncoder();

export class GoogleImages {
  private readonly rest: GoogleRest;

  constructor(options: GoogleImagesOptions) {
    this.rest = new GoogleRest(options, 'Google');
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

    const { status, bytes } = await this.rest.post(model, translation.method, translation.request(options), request.signal);
    const json = parseJson(bytes);
    if (status >= 400) return errorResponse(mapGoogleImageError(status, Buffer.from(bytes).toString('utf8'), model), passHeaders);
    // Not JSON: the lifecycle answers 502 upstream_malformed and bills nothing.
    if (json === undefined) return { kind: 'buffered', status, passHeaders, bytes };

    const answer = translation.answer(json, options);
    if (answer.kind === 'error') return errorResponse(answer.error, passHeaders);
    if (answer.filtered > 0) passHeaders['x-tokengate-images-filtered'] = String(answer.filtered);
    return { kind: 'buffered', status: 200, passHeaders, bytes: encoder.encode(JSON.stringify(answer.body)) };
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
