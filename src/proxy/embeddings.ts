// POST /v1/embeddings as a metered operation: the hold is the inputs' tokens at the model's input rate
// (there is no output to clamp), the charge the provider's `prompt_tokens` (or, from a provider that
// reports none, the counted tokens, as estimated). `encoding_format` (the openai SDK asks for base64
// unless told otherwise), `dimensions` and `user` pass through unchanged.
import { z } from 'zod';
import { runMeteredCall, type HoldRequestPlan, type MeteredOperation, type MeteredRequest, type MeteredUsage, type StreamMeter } from '../billing/metered-call/index.js';
import type { EmbeddingModel } from '../billing/price-table.js';
import { chargeFor } from '../billing/pricing.js';
import type { Deps } from '../deps.js';
import type { AuthContext } from '../http/context.js';
import { badRequest, forbidden, fromZodError } from '../http/errors.js';
import { embeddingInputTokens } from '../metering/embedding-input.js';
import { isJsonObject } from '../metering/guards.js';
import { usageFromEmbeddings } from '../metering/usage.js';
import type { ChatProvider, ChatResponse, EndpointRequest } from '../providers/types.js';

/** OpenAI's own limit on inputs per request; more is refused here rather than held for. */
const MAX_INPUTS = 2_048;

const tokenId = z.number().int().nonnegative();
const inputSchema = z.union([
  z.string().min(1, 'must not be empty'),
  z.array(z.string().min(1, 'must not be empty')).min(1, 'must not be empty').max(MAX_INPUTS),
  z.array(tokenId).min(1, 'must not be empty'),
  z.array(z.array(tokenId).min(1, 'must not be empty')).min(1, 'must not be empty').max(MAX_INPUTS),
]);

export const embeddingsRequestSchema = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  input: inputSchema,
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().positive().nullish(),
});

type EmbeddingsRequestBody = z.infer<typeof embeddingsRequestSchema>;
type EmbeddingsCall = (request: EndpointRequest) => Promise<ChatResponse>;

export async function handleEmbeddings(deps: Deps, request: MeteredRequest): Promise<Response> {
  const body = parseBody(request.rawBody);
  const model = resolveEmbeddingModel(deps, request.auth, body.model);
  const provider: ChatProvider | undefined = deps.providers.get(model.provider);
  if (!provider) throw badRequest(`The model '${model.id}' is not available: its provider '${model.provider}' is not enabled on this gateway.`, 'model', 'model_not_available');
  if (!provider.embeddings) throw badRequest(`The model '${model.id}' (provider '${model.provider}') is not served on /v1/embeddings by this gateway yet.`, 'model', 'model_not_available');
  return runMeteredCall(deps, request, new EmbeddingsOperation(body, model, provider.embeddings.bind(provider), request.header));
}

function parseBody(rawBody: string): EmbeddingsRequestBody {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  const parsed = embeddingsRequestSchema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

function resolveEmbeddingModel(deps: Deps, auth: AuthContext, id: string): EmbeddingModel {
  const model = deps.prices.embedding(id);
  if (!model) {
    const other = deps.prices.model(id);
    const detail = other ? ` It is a ${other.kind} model; /v1/embeddings takes embedding models.` : '';
    throw badRequest(`The model '${id}' does not exist or has no embedding price.${detail}`, 'model', 'model_not_found');
  }
  if (auth.key.models && !auth.key.models.includes(id)) throw forbidden(`This API key may not use the model '${id}'.`);
  return model;
}

class EmbeddingsOperation implements MeteredOperation {
  readonly defaultOperation = 'embedding';
  readonly stream = false;
  readonly rates: Record<string, unknown>;
  private inputTokens = 0;
  /** The answer's usage is the gateway's count, not the provider's. */
  private usageCounted = false;

  constructor(
    private readonly body: EmbeddingsRequestBody,
    readonly model: EmbeddingModel,
    private readonly call: EmbeddingsCall,
    private readonly header: MeteredRequest['header'],
  ) {
    this.rates = { input: model.input, per: 1_000_000 };
  }

  costOf(usage: MeteredUsage): number {
    return chargeFor(usage, { input: this.model.input, cachedInput: this.model.input, output: 0 });
  }

  /** Nothing to clamp: the whole input is held, under either policy. */
  async planHold(): Promise<HoldRequestPlan> {
    this.inputTokens = await embeddingInputTokens(this.body.input, this.model.encoding);
    const amountTokens = this.costOf(this.estimateWithoutAnswer());
    return { amountTokens, minimumTokens: amountTokens };
  }

  async forward(_heldTokens: number, signal: AbortSignal): Promise<ChatResponse> {
    const { model } = this;
    const response = await this.call({ model, body: { ...this.body, model: model.upstreamModel }, stream: false, signal, header: this.header });
    return this.withCountedUsage(response);
  }

  /**
   * An answer without usage (Gemini's embed API reports no token counts) gets the gateway's own count
   * as its `usage`, so every client reads prompt_tokens as from OpenAI; the charge is then marked
   * estimated, and the answer says so in `x-tokengate-usage-source`.
   */
  private withCountedUsage(response: ChatResponse): ChatResponse {
    if (response.kind !== 'buffered' || response.status >= 400) return response;
    const json = parseJsonOrNull(response.bytes);
    if (!isJsonObject(json) || usageFromEmbeddings(json.usage)) return response;
    this.usageCounted = true;
    json.usage = { prompt_tokens: this.inputTokens, total_tokens: this.inputTokens };
    return { ...response, passHeaders: { ...response.passHeaders, 'x-tokengate-usage-source': 'estimated' }, bytes: Buffer.from(JSON.stringify(json)) };
  }

  usageFromBody(json: unknown): MeteredUsage | null {
    if (this.usageCounted) return null; // our own count: billed through estimateFromBody, as estimated
    const usage = usageFromEmbeddings((json as { usage?: unknown } | null)?.usage);
    return usage && { ...usage, images: 0 };
  }

  estimateFromBody(): MeteredUsage {
    return this.estimateWithoutAnswer();
  }

  /** Embeddings are never streamed; should a provider stream anyway, its bytes pass unread. */
  streamMeter(): StreamMeter {
    return {
      push: (chunk) => [chunk],
      end: () => [],
      reading: () => ({ usage: null, completed: true, error: null, generatedOutput: true }),
    };
  }

  estimateFromStream(): MeteredUsage {
    return this.estimateWithoutAnswer();
  }

  streamError(code: string, message: string): Uint8Array {
    return Buffer.from(`data: ${JSON.stringify({ error: { message, type: 'api_error', code, param: null } })}\n\n`);
  }

  /** The inputs' tokens, as counted for the hold: what the provider bills for them. */
  estimateWithoutAnswer(): MeteredUsage {
    return { inputTokens: this.inputTokens, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, images: 0 };
  }
}

function parseJsonOrNull(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}
