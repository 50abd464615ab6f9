// POST /v1/chat/completions as a metered operation: what a chat request may cost at worst, how it is
// forwarded (clamped output cap, include_usage on streams), and how its usage is read or estimated.
// The lifecycle around it (hold, idempotency, abort, settlement) is src/billing/metered-call/.
import { clampedOutputCap, planHold } from '../billing/hold-plan.js';
import { runMeteredCall, type HoldRequestPlan, type MeteredOperation, type MeteredRequest, type MeteredUsage } from '../billing/metered-call/index.js';
import type { ChatModel } from '../billing/price-table.js';
import { chargeFor } from '../billing/pricing.js';
import type { Deps } from '../deps.js';
import type { AuthContext } from '../http/context.js';
import { badRequest, forbidden, fromZodError } from '../http/errors.js';
import { generatedFromCompletion } from '../metering/completion.js';
import type { GeneratedOutput } from '../metering/generated.js';
import { OpenAIStreamMeter, requestWantsUsage, withIncludeUsage } from '../metering/openai-stream.js';
import { countCompletionTokens, estimatePromptTokens, measurePrompt } from '../metering/tokenizer.js';
import { usageFromOpenAI } from '../metering/usage.js';
import type { ChatProvider, ChatResponse } from '../providers/types.js';
import { chatRequestSchema, type ChatRequestBody } from './chat-request.js';

export async function handleChatCompletion(deps: Deps, request: MeteredRequest): Promise<Response> {
  const body = parseBody(request.rawBody);
  const model = resolveChatModel(deps, request.auth, body.model);
  const provider = deps.providers.get(model.provider);
  if (!provider) throw badRequest(`The model '${body.model}' is not available: its provider '${model.provider}' is not enabled on this gateway.`, 'model', 'model_not_available');
  return runMeteredCall(deps, request, new ChatOperation(body, model, provider, request.header));
}

function parseBody(rawBody: string): ChatRequestBody {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  const parsed = chatRequestSchema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

export function resolveChatModel(deps: Deps, auth: AuthContext, id: string): ChatModel {
  const model = deps.prices.chat(id);
  if (!model) throw badRequest(`The model '${id}' does not exist or has no price.`, 'model', 'model_not_found');
  if (auth.key.models && !auth.key.models.includes(id)) throw forbidden(`This API key may not use the model '${id}'.`);
  return model;
}

class ChatOperation implements MeteredOperation {
  readonly defaultOperation = null;
  readonly stream: boolean;
  readonly rates: Record<string, unknown>;
  /** The output cap the hold assumes: the client's, within the model's limit. */
  private readonly outputCap: number;
  /** The cap actually sent upstream (lower when the hold was clamped). */
  private sentCap: number;
  /** The prompt estimate (tiktoken); for a short prompt held by its bound, counted only when needed. */
  private counted: number | null = null;
  /** What the hold assumed for the prompt: the estimate, or the bound (never below it). */
  private heldPromptTokens = 0;
  private meter: OpenAIStreamMeter | null = null;

  constructor(
    private readonly body: ChatRequestBody,
    readonly model: ChatModel,
    private readonly provider: ChatProvider,
    private readonly header: MeteredRequest['header'],
  ) {
    this.stream = body.stream === true;
    this.rates = { input: model.input, cachedInput: model.cachedInput, output: model.output, per: 1_000_000 };
    const clientCap = body.max_completion_tokens ?? body.max_tokens ?? null;
    this.outputCap = Math.min(clientCap ?? model.maxOutputTokens, model.maxOutputTokens);
    this.sentCap = this.outputCap;
  }

  costOf(usage: MeteredUsage): number {
    return chargeFor(usage, this.model);
  }

  async planHold(policy: 'clamp' | 'reject', precision: 'bound' | 'exact' = 'exact'): Promise<HoldRequestPlan> {
    const measure = measurePrompt(this.body, this.model);
    if (precision === 'bound' && measure.cheap) {
      this.heldPromptTokens = measure.boundTokens;
      return { ...planHold(measure.boundTokens, this.outputCap, this.model, policy), bound: true };
    }
    this.counted = await measure.count();
    this.heldPromptTokens = this.counted;
    return planHold(this.counted, this.outputCap, this.model, policy);
  }

  /** The prompt estimate billed when the provider reports no usage (a short prompt: counted inline, once). */
  private get promptTokens(): number {
    this.counted ??= estimatePromptTokens(this.body, this.model);
    return this.counted;
  }

  forward(heldTokens: number, signal: AbortSignal): Promise<ChatResponse> {
    const { body, model } = this;
    const upstream: Record<string, unknown> = { ...body, model: model.upstreamModel };
    const affordable = clampedOutputCap(heldTokens, this.heldPromptTokens, this.outputCap, model);
    if (affordable < this.outputCap) {
      // Clamp: ask for no more output than the hold pays for, in the field the client used.
      this.sentCap = affordable;
      upstream[body.max_tokens != null && body.max_completion_tokens == null ? 'max_tokens' : 'max_completion_tokens'] = affordable;
    }
    return this.provider.chat({ model, body: this.stream ? withIncludeUsage(upstream) : upstream, stream: this.stream, signal, header: this.header });
  }

  usageFromBody(json: unknown): MeteredUsage | null {
    const usage = usageFromOpenAI((json as { usage?: unknown } | null)?.usage);
    return usage && { ...usage, images: 0 };
  }

  estimateFromBody(json: unknown): MeteredUsage {
    return this.estimated(generatedFromCompletion(json));
  }

  streamMeter(): OpenAIStreamMeter {
    const wantsUsage = requestWantsUsage(this.body);
    // The usage chunk's cost is what settlement charges for that usage (the same pure price).
    this.meter = new OpenAIStreamMeter({ stripUsageChunk: !wantsUsage, costOf: wantsUsage ? (usage) => this.costOf({ ...usage, images: 0 }) : undefined });
    return this.meter;
  }

  estimateFromStream(): MeteredUsage {
    return this.estimated(this.meter?.result().generated ?? { content: '', toolCalls: [] });
  }

  streamError(code: string, message: string): Uint8Array {
    // OpenAI's own mid-stream error shape: the SDK turns it into an APIError.
    return Buffer.from(`data: ${JSON.stringify({ error: { message, type: 'api_error', code, param: null } })}\n\n`);
  }

  estimateWithoutAnswer(): MeteredUsage {
    return this.estimated(null);
  }

  /**
   * The prompt is our own estimate; the output is tiktoken's count of what was generated. A reasoning
   * model's thinking never appears in what it sends, so without usage it is billed its output cap.
   */
  private estimated(generated: GeneratedOutput | null): MeteredUsage {
    const counted = generated ? countCompletionTokens(generated, this.model.encoding) : 0;
    const outputTokens = this.model.reasoning ? Math.max(counted, this.sentCap) : counted;
    return { inputTokens: this.promptTokens, cachedInputTokens: 0, outputTokens, reasoningTokens: 0, images: 0 };
  }
}
