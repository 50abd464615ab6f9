// POST /v1/images/generations as a metered operation: the hold is n images at the dearest price the
// request allows, all or nothing; the charge is the images actually returned, or, where the provider
// reports token usage (gpt-image-1, Gemini image output), those tokens at the model's token rates.
// The lifecycle around it (hold, idempotency, abort, settlement) is src/billing/metered-call/.
import {
  chooseImageOptions,
  imageHoldTokens,
  imagePrice,
  imageTokenCharge,
  perImageCharge,
  worstImagePrice,
  type ImageChoice,
  type ImageTokens,
} from '../billing/image-pricing.js';
import { runMeteredCall, type HoldRequestPlan, type MeteredOperation, type MeteredRequest, type MeteredUsage, type StreamMeter } from '../billing/metered-call/index.js';
import { AUTO, MOST_EXPENSIVE_IMAGE_RULE, type ImageModel } from '../billing/price-table.js';
import type { Deps } from '../deps.js';
import type { AuthContext } from '../http/context.js';
import { badRequest, forbidden, fromZodError } from '../http/errors.js';
import { isJsonObject } from '../metering/guards.js';
import { readImagesAnswer } from '../metering/image-usage.js';
import { measurePrompt } from '../metering/tokenizer.js';
import type { ChatResponse, EndpointRequest } from '../providers/types.js';
import { imageRequestSchema, type ImageRequestBody } from './image-request.js';

type SendImages = (request: EndpointRequest) => Promise<ChatResponse>;

/** How one usage is priced: per image returned, or from the tokens the provider reported. */
type PerImage = { basis: 'image'; size: string; quality: string; perImage: number };
type ImagePricing = PerImage | { basis: 'tokens'; tokens: ImageTokens };

/** A usage that carries its pricing, so cost and recorded rates follow what came back. */
interface ImageUsage extends MeteredUsage {
  pricing: ImagePricing;
}

export async function handleImageGeneration(deps: Deps, request: MeteredRequest): Promise<Response> {
  const body = parseBody(request.rawBody);
  if (body.stream === true) {
    throw badRequest('Streaming image generation is not supported by this gateway; leave out `stream` or send false.', 'stream', 'unsupported_parameter');
  }
  const model = resolveImageModel(deps, request.auth, body.model);
  const n = body.n ?? 1;
  if (n > model.maxImages) throw badRequest(`The model '${model.id}' makes at most ${model.maxImages} image(s) per request; got n=${n}.`, 'n', 'invalid_value');
  const chosen = chooseImageOptions(model, body.size, body.quality);
  if (!chosen.ok) throw badRequest(chosen.message, chosen.param, 'invalid_value');
  const provider = deps.providers.get(model.provider);
  if (!provider?.images) {
    throw badRequest(`The model '${model.id}' is not available: its provider '${model.provider}' is not enabled on this gateway.`, 'model', 'model_not_available');
  }
  const send: SendImages = (upstream) => provider.images!(upstream);
  return runMeteredCall(deps, request, new ImageOperation(body, model, n, chosen.choice, send, request.header));
}

function parseBody(rawBody: string): ImageRequestBody {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  const parsed = imageRequestSchema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

function resolveImageModel(deps: Deps, auth: AuthContext, id: string): ImageModel {
  const model = deps.prices.image(id);
  if (!model) throw badRequest(`The model '${id}' does not exist, is not an image model, or has no price.`, 'model', 'model_not_found');
  if (auth.key.models && !auth.key.models.includes(id)) throw forbidden(`This API key may not use the model '${id}'.`);
  return model;
}

class ImageOperation implements MeteredOperation {
  readonly defaultOperation = 'image';
  readonly stream = false;
  readonly rates: Record<string, unknown>;
  /** The price per image the request itself implies (the dearest, for "auto"). */
  private readonly requested: PerImage;

  constructor(
    private readonly body: ImageRequestBody,
    readonly model: ImageModel,
    private readonly n: number,
    private readonly choice: ImageChoice,
    private readonly send: SendImages,
    private readonly header: MeteredRequest['header'],
  ) {
    this.requested = { basis: 'image', ...choice, perImage: worstImagePrice(model, choice) };
    this.rates = this.ratesOf(this.requested);
  }

  costOf(usage: MeteredUsage): number {
    const pricing = pricingOf(usage) ?? this.requested;
    if (pricing.basis === 'tokens' && this.model.tokenRates) return imageTokenCharge(pricing.tokens, this.model.tokenRates);
    return perImageCharge(usage.images, (pricing.basis === 'image' ? pricing : this.requested).perImage);
  }

  ratesFor(usage: MeteredUsage): Record<string, unknown> {
    return this.ratesOf(pricingOf(usage) ?? this.requested);
  }

  async planHold(): Promise<HoldRequestPlan> {
    // All or nothing: a smaller hold cannot buy part of an image, so the reservation policy does not apply.
    const promptTokens = this.model.tokenRates ? await this.promptTokens() : 0;
    const amountTokens = imageHoldTokens(this.model, this.choice, this.n, promptTokens);
    return { amountTokens, minimumTokens: amountTokens };
  }

  /** The prompt as one user message, counted like a chat prompt (inline when short, else in a worker). */
  private promptTokens(): Promise<number> {
    const rules = { encoding: this.model.encoding, imageTokens: MOST_EXPENSIVE_IMAGE_RULE, input: 1, output: 1 };
    return measurePrompt({ messages: [{ role: 'user', content: this.body.prompt }] }, rules).count();
  }

  forward(_heldTokens: number, signal: AbortSignal): Promise<ChatResponse> {
    const body: Record<string, unknown> = { ...this.body, model: this.model.upstreamModel };
    return this.send({ model: this.model, body, stream: false, signal, header: this.header });
  }

  /** Tokens where the provider reported them; otherwise the images in `data`; null for an error without usage. */
  usageFromBody(json: unknown): ImageUsage | null {
    const answer = readImagesAnswer(json);
    if (answer.tokens && this.model.tokenRates) return tokenUsage(answer.tokens, answer.images);
    if (!isJsonObject(json) || !Array.isArray(json.data)) return null;
    return this.imageUsage(answer.images, answer.size, answer.quality);
  }

  estimateFromBody(json: unknown): ImageUsage {
    return this.imageUsage(readImagesAnswer(json).images, null, null);
  }

  /** Never used: the request asks for no stream. A provider that streams anyway is billed as if it sent every image. */
  streamMeter(): StreamMeter {
    return new PassThroughMeter();
  }

  estimateFromStream(): ImageUsage {
    return this.estimateWithoutAnswer();
  }

  streamError(code: string, message: string): Uint8Array {
    return Buffer.from(`data: ${JSON.stringify({ error: { message, type: 'api_error', code, param: null } })}\n\n`);
  }

  /** The provider had the request and its answer was lost to us: it bills the images it made, so we bill all n. */
  estimateWithoutAnswer(): ImageUsage {
    return { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, images: this.n, pricing: this.requested };
  }

  /** Per image, at the size and quality the provider says it chose when the request said "auto". */
  private imageUsage(images: number, answeredSize: string | null, answeredQuality: string | null): ImageUsage {
    const size = this.choice.size === AUTO && answeredSize ? answeredSize : this.choice.size;
    const quality = this.choice.quality === AUTO && answeredQuality ? answeredQuality : this.choice.quality;
    const exact = imagePrice(this.model, size, quality);
    const pricing: PerImage = exact === null ? this.requested : { basis: 'image', size, quality, perImage: exact };
    return { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, images, pricing };
  }

  private ratesOf(pricing: ImagePricing): Record<string, unknown> {
    if (pricing.basis === 'image' || !this.model.tokenRates) {
      const perImage = pricing.basis === 'image' ? pricing : this.requested;
      return { basis: 'image', size: perImage.size, quality: perImage.quality, perImage: perImage.perImage };
    }
    const { textInput, imageInput, output } = this.model.tokenRates;
    const { textInputTokens, imageInputTokens } = pricing.tokens;
    return { basis: 'tokens', per: 1_000_000, textInput, imageInput, output, textInputTokens, imageInputTokens };
  }
}

function tokenUsage(tokens: ImageTokens, images: number): ImageUsage {
  return {
    inputTokens: tokens.textInputTokens + tokens.imageInputTokens,
    cachedInputTokens: 0,
    outputTokens: tokens.outputTokens,
    reasoningTokens: 0,
    images,
    pricing: { basis: 'tokens', tokens },
  };
}

function pricingOf(usage: MeteredUsage): ImagePricing | null {
  return 'pricing' in usage ? (usage as ImageUsage).pricing : null;
}

class PassThroughMeter implements StreamMeter {
  push(chunk: Uint8Array): Uint8Array[] {
    return [chunk];
  }

  end(): Uint8Array[] {
    return [];
  }

  reading() {
    return { usage: null, completed: true, error: null, generatedOutput: true };
  }
}
