// OpenAI's POST /embeddings on Gemini embedding models: one string goes to `models/{model}:embedContent`,
// an array of strings to `:batchEmbedContents` (Google takes at most 100 per call), over plain HTTP
// (../google-rest.ts). `dimensions` becomes `outputDimensionality`; the answer is OpenAI's embedding
// list, as floats or as base64 of little-endian float32 (`encoding_format`, base64 being what the
// openai SDK asks for). Google reports no token counts for embeddings: the list carries no `usage`,
// and the metering core bills its own count, marked estimated (README, "Gemini embeddings").
import { isJsonObject } from '../../metering/guards.js';
import type { GoogleRest } from '../google-rest.js';
import type { ChatResponse, EndpointRequest } from '../types.js';
import { errorResponse, mapGoogleError, parseGoogleError, type MappedError } from './errors.js';

/** Google's limit on the requests of one batchEmbedContents call. */
export const MAX_BATCH_INPUTS = 100;

const TRANSLATED = new Set(['model', 'input', 'encoding_format', 'dimensions']);

export interface EmbeddingsPlan {
  method: 'embedContent' | 'batchEmbedContents';
  payload: Record<string, unknown>;
  inputs: number;
  base64: boolean;
  /** Fields the client set that Gemini has no use for (`user`, ...). */
  ignored: string[];
}

export type Planned<T> = { ok: true; value: T } | { ok: false; error: MappedError };

const refused = (message: string, param: string): Planned<never> => ({
  ok: false,
  error: { status: 400, headers: {}, body: { error: { message, type: 'invalid_request_error', code: 'unsupported_parameter', param } } },
});

/** The Google call for an OpenAI embeddings body (already validated by the core's schema). */
export function planGeminiEmbeddings(body: Record<string, unknown>, model: string): Planned<EmbeddingsPlan> {
  const ignored = Object.keys(body).filter((name) => body[name] != null && !TRANSLATED.has(name)).sort();
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((entry) => typeof entry === 'string') ? (input as string[]) : null;
  if (!texts) return refused('Gemini embedding models take text: a string or an array of strings (OpenAI token ids mean nothing to Google).', 'input');
  if (texts.length > MAX_BATCH_INPUTS) return refused(`Gemini embeds at most ${MAX_BATCH_INPUTS} inputs per request (${texts.length} were sent): split them over several requests.`, 'input');
  const dimensions = typeof body.dimensions === 'number' ? { outputDimensionality: body.dimensions } : {};
  const content = (text: string) => ({ parts: [{ text }] });
  const plan = typeof input === 'string'
    ? { method: 'embedContent' as const, payload: { content: content(input), ...dimensions } }
    : { method: 'batchEmbedContents' as const, payload: { requests: texts.map((text) => ({ model: `models/${model}`, content: content(text), ...dimensions })) } };
  return { ok: true, value: { ...plan, inputs: texts.length, base64: body.encoding_format !== 'float', ignored } };
}

/** Google's answer as OpenAI's embedding list (no usage: Google reports none); 502 when it is not one. */
export function embeddingListFrom(json: unknown, plan: EmbeddingsPlan, model: string): Planned<Record<string, unknown>> {
  const vectors = vectorsOf(json, plan.method);
  if (!vectors || vectors.length !== plan.inputs) {
    const error = { message: `Gemini answered ${plan.method} without ${plan.inputs} embedding${plan.inputs === 1 ? '' : 's'}.`, type: 'upstream_error', code: 'upstream_malformed', param: null };
    return { ok: false, error: { status: 502, headers: {}, body: { error } } };
  }
  return {
    ok: true,
    value: {
      object: 'list',
      data: vectors.map((values, index) => ({ object: 'embedding', index, embedding: plan.base64 ? base64Floats(values) : values })),
      model,
    },
  };
}

/** OpenAI's base64 embedding: the floats as little-endian float32, base64-encoded. */
export function base64Floats(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

function vectorsOf(json: unknown, method: EmbeddingsPlan['method']): number[][] | null {
  if (!isJsonObject(json)) return null;
  const embeddings = method === 'embedContent' ? [json.embedding] : json.embeddings;
  if (!Array.isArray(embeddings)) return null;
  const vectors: number[][] = [];
  for (const embedding of embeddings) {
    const values = isJsonObject(embedding) ? embedding.values : undefined;
    if (!Array.isArray(values) || !values.every((value) => typeof value === 'number' && Number.isFinite(value))) return null;
    vectors.push(values as number[]);
  }
  return vectors;
}

export async function geminiEmbeddings(rest: GoogleRest, request: EndpointRequest): Promise<ChatResponse> {
  const model = request.model.upstreamModel;
  const planned = planGeminiEmbeddings(request.body, model);
  if (!planned.ok) return errorResponse(planned.error, {}); // refused here: Google is never called
  const plan = planned.value;
  const passHeaders: Record<string, string> = plan.ignored.length > 0 ? { 'x-tokengate-ignored-params': plan.ignored.join(', ') } : {};
  const { status, bytes } = await rest.post(model, plan.method, plan.payload, request.signal);
  const text = Buffer.from(bytes).toString('utf8');
  if (status >= 400) return errorResponse(mapGoogleError(status, parseGoogleError(text), model), passHeaders);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'buffered', status, passHeaders, bytes }; // not JSON: the lifecycle answers 502 and bills nothing
  }
  const list = embeddingListFrom(json, plan, model);
  if (!list.ok) return errorResponse(list.error, passHeaders);
  return { kind: 'buffered', status: 200, passHeaders, bytes: Buffer.from(JSON.stringify(list.value)) };
}
