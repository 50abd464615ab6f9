// POST /v1/responses as a metered operation: what a Responses request may cost at worst (prompt,
// continued context, output cap, built-in tool calls), how it is forwarded (clamped max_output_tokens,
// bounded max_tool_calls), and how its usage is read or estimated. Stored responses are recorded to the
// account that created them (responses-recording.ts). The lifecycle around it is src/billing/metered-call/.
import { clampedOutputCap } from '../billing/hold-plan.js';
import { runMeteredCall, type HoldRequestPlan, type MeteredOperation, type MeteredRequest, type MeteredUsage } from '../billing/metered-call/index.js';
import type { ChatModel } from '../billing/price-table.js';
import { chargeFor } from '../billing/pricing.js';
import { checkTools, type ToolBilling } from '../billing/tool-prices.js';
import type { Deps } from '../deps.js';
import { ApiError, badRequest, fromZodError } from '../http/errors.js';
import { countTextsOffLoop } from '../metering/count-texts.js';
import type { GeneratedOutput } from '../metering/generated.js';
import { collectResponsesPrompt, UnboundedInputError, type ResponsesPrompt } from '../metering/responses-input.js';
import { generatedFromResponse, outputItemsOf } from '../metering/responses-output.js';
import { ResponsesStreamMeter } from '../metering/responses-stream.js';
import { countCompletionTokens } from '../metering/tokenizer.js';
import { usageFromResponses } from '../metering/usage.js';
import type { ChatProvider, ChatResponse, EndpointRequest } from '../providers/types.js';
import { resolveChatModel } from './chat-completions.js';
import { ResponseOwnership } from './responses-ownership.js';
import { finishedOf, ResponseRecorder } from './responses-recording.js';
import { refuseUnstored } from './responses-stateless.js';
import { refuseUnsupported, responsesRequestSchema, type ResponsesRequestBody } from './responses-request.js';

/** OpenAI refuses a `max_output_tokens` below 16: a clamped cap never goes lower. */
export const MIN_OUTPUT_TOKENS = 16;
/** Built-in tool calls held for, and sent as `max_tool_calls`, when the client does not bound them. */
export const DEFAULT_MAX_TOOL_CALLS = 10;

type ResponsesCall = (request: EndpointRequest) => Promise<ChatResponse>;

export async function handleResponses(deps: Deps, request: MeteredRequest): Promise<Response> {
  const body = parseBody(request.rawBody);
  refuseUnsupported(body);
  const model = resolveChatModel(deps, request.auth, body.model);
  const provider = responsesProviderOf(deps, model);
  // A provider that translates the API and stores nothing refuses what needs stored state here,
  // before any hold and before any lookup of stored responses (a 400, not a 404).
  const stateless = provider.statelessResponses;
  stateless?.check(body);
  const tools = checkTools(body.tools ?? [], deps.prices.toolPrices(model));
  if (!tools.ok) {
    throw badRequest(
      `The tool '${tools.type}' has no per-call price on this gateway, so it is not accepted: a built-in tool the provider bills per call must be priced in config/models.json (toolPrices).`,
      `tools[${tools.index}].type`,
      'tool_not_priced',
    );
  }
  const prompt = collectPrompt(body, model);
  const ownership = new ResponseOwnership(deps.db);
  const continuedTokens = stateless ? 0 : await continuedContextTokens(deps, ownership, request.auth.accountId, body, prompt.itemReferences);
  const recorder =
    stateless || body.store === false
      ? null
      : new ResponseRecorder(deps, ownership, { accountId: request.auth.accountId, requestId: request.requestId, model: model.id, provider: model.provider });
  const call: ResponsesCall = (endpoint) => provider.responses(endpoint);
  return runMeteredCall(deps, request, new ResponsesOperation({ body, model, call, tools: tools.billing, prompt, continuedTokens, recorder, header: request.header }));
}

function parseBody(rawBody: string): ResponsesRequestBody {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  const parsed = responsesRequestSchema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

type ResponsesProvider = ChatProvider & Required<Pick<ChatProvider, 'responses'>>;

function responsesProviderOf(deps: Deps, model: ChatModel): ResponsesProvider {
  const provider: ChatProvider | undefined = deps.providers.get(model.provider);
  if (!provider) throw badRequest(`The model '${model.id}' is not available: its provider '${model.provider}' is not enabled on this gateway.`, 'model', 'model_not_available');
  if (!provider.responses) {
    throw badRequest(
      `The model '${model.id}' (provider '${model.provider}') is not served on /v1/responses by this gateway yet; use /v1/chat/completions for it.`,
      'model',
      'model_not_available',
    );
  }
  return provider as ResponsesProvider;
}

function collectPrompt(body: ResponsesRequestBody, model: ChatModel): ResponsesPrompt {
  try {
    return collectResponsesPrompt(body, model);
  } catch (error) {
    if (error instanceof UnboundedInputError) throw badRequest(error.message, error.param, 'unsupported_content');
    throw error;
  }
}

/**
 * What continuing from stored responses adds to the prompt: the whole previous response (its input and
 * output) for previous_response_id, the output of each response an item_reference points into. Only the
 * account's own responses may be continued: anything else is 404 before the provider is asked. A
 * response that has not reported its usage adds nothing (see README, "Responses API").
 */
async function continuedContextTokens(deps: Deps, ownership: ResponseOwnership, accountId: string, body: ResponsesRequestBody, itemIds: readonly string[]): Promise<number> {
  let tokens = 0;
  if (body.previous_response_id) {
    const previous = await ownership.find(accountId, body.previous_response_id);
    if (!previous) {
      refuseUnstored(deps, body.previous_response_id, 'previous_response_id');
      throw new ApiError(404, 'not_found', `Previous response with id '${body.previous_response_id}' not found.`, 'not_found_error', 'previous_response_id');
    }
    tokens += (previous.inputTokens ?? 0) + (previous.outputTokens ?? 0);
  }
  const referenced = await ownership.referencedItems(accountId, itemIds);
  const [missing] = referenced.missing;
  if (missing !== undefined) throw new ApiError(404, 'not_found', `Item with id '${missing}' not found.`, 'not_found_error', 'input');
  for (const outputTokens of referenced.outputTokens.values()) tokens += outputTokens ?? 0;
  return tokens;
}

interface ResponsesOperationInit {
  body: ResponsesRequestBody;
  model: ChatModel;
  call: ResponsesCall;
  tools: ToolBilling;
  prompt: ResponsesPrompt;
  continuedTokens: number;
  recorder: ResponseRecorder | null;
  header: MeteredRequest['header'];
}

class ResponsesOperation implements MeteredOperation {
  readonly defaultOperation = null;
  readonly stream: boolean;
  readonly rates: Record<string, unknown>;
  readonly model: ChatModel;
  /** The output cap the hold assumes: the client's, within the model's limit. */
  private readonly outputCap: number;
  /** The cap actually sent upstream (lower when the hold was clamped). */
  private sentCap: number;
  /** Built-in tool calls the hold pays for: the client's max_tool_calls, or DEFAULT_MAX_TOOL_CALLS sent upstream. */
  private readonly toolCallBound: number;
  private readonly toolHoldTokens: number;
  private promptTokens = 0;
  private meter: ResponsesStreamMeter | null = null;

  constructor(private readonly init: ResponsesOperationInit) {
    const { body, model, tools } = init;
    this.model = model;
    this.stream = body.stream === true;
    this.rates = { input: model.input, cachedInput: model.cachedInput, output: model.output, per: 1_000_000, ...(Object.keys(tools.prices).length > 0 ? { toolPrices: tools.prices } : {}) };
    this.outputCap = Math.min(body.max_output_tokens ?? model.maxOutputTokens, model.maxOutputTokens);
    this.sentCap = this.outputCap;
    this.toolCallBound = tools.billsCalls ? (body.max_tool_calls ?? DEFAULT_MAX_TOOL_CALLS) : 0;
    this.toolHoldTokens = tools.holdFor(this.toolCallBound);
  }

  costOf(usage: MeteredUsage): number {
    return chargeFor(usage, this.model) + this.init.tools.costOf(usage.toolCalls);
  }

  async planHold(policy: 'clamp' | 'reject'): Promise<HoldRequestPlan> {
    const { prompt, continuedTokens, model } = this.init;
    // The provider refuses (unbilled) or truncates a prompt longer than the context window.
    const counted = prompt.fixedTokens + (await countTextsOffLoop(prompt.texts, model.encoding)) + continuedTokens;
    this.promptTokens = Math.min(counted, model.contextWindow ?? counted);
    const withOutput = (outputTokens: number) => chargeFor({ inputTokens: this.promptTokens, cachedInputTokens: 0, outputTokens }, model) + this.toolHoldTokens;
    const amountTokens = withOutput(this.outputCap);
    return { amountTokens, minimumTokens: policy === 'reject' ? amountTokens : withOutput(Math.min(MIN_OUTPUT_TOKENS, this.outputCap)) };
  }

  async forward(heldTokens: number, signal: AbortSignal): Promise<ChatResponse> {
    const { body, model, recorder } = this.init;
    const upstream: Record<string, unknown> = { ...body, model: model.upstreamModel };
    const affordable = clampedOutputCap(heldTokens - this.toolHoldTokens, this.promptTokens, this.outputCap, model);
    if (affordable < this.outputCap) {
      // Clamp: ask for no more output than the hold pays for.
      this.sentCap = Math.max(affordable, Math.min(MIN_OUTPUT_TOKENS, this.outputCap));
      upstream.max_output_tokens = this.sentCap;
    }
    if (this.toolCallBound > 0 && body.max_tool_calls == null) upstream.max_tool_calls = this.toolCallBound;
    const response = await this.init.call({ model, body: upstream, stream: this.stream, signal, header: this.init.header });
    if (!recorder || response.status >= 400) return response;
    if (response.kind === 'buffered') {
      await recorder.recordBuffered(response.bytes);
      return response;
    }
    return recorder.wrapStream(response, () => (this.meter?.final ? finishedOf(this.meter.final) : null));
  }

  usageFromBody(json: unknown): MeteredUsage | null {
    const usage = usageFromResponses((json as { usage?: unknown } | null)?.usage);
    return usage && { ...usage, images: 0, toolCalls: this.init.tools.callsIn(outputItemsOf(json)) };
  }

  estimateFromBody(json: unknown): MeteredUsage {
    return this.estimated(generatedFromResponse(json), this.init.tools.callsIn(outputItemsOf(json)));
  }

  streamMeter(): ResponsesStreamMeter {
    this.meter = new ResponsesStreamMeter((items) => this.init.tools.callsIn(items));
    return this.meter;
  }

  estimateFromStream(): MeteredUsage {
    return this.meter ? this.estimated(this.meter.generatedSoFar(), this.meter.toolCallsSoFar()) : this.estimateWithoutAnswer();
  }

  /**
   * The Responses wire format's error event. OpenAI documents its fields flat and sends them nested
   * under `error`; both are given, so every client finds them (the openai SDK raises it as an APIError).
   */
  streamError(code: string, message: string): Uint8Array {
    const error = { type: 'api_error', code, message, param: null };
    const event = { type: 'error', code, message, param: null, sequence_number: this.meter?.nextSequenceNumber() ?? 0, error };
    return Buffer.from(`event: error\ndata: ${JSON.stringify(event)}\n\n`);
  }

  estimateWithoutAnswer(): MeteredUsage {
    return this.estimated(null, {});
  }

  /**
   * The prompt is our own estimate; the output is tiktoken's count of what was generated. A reasoning
   * model's thinking never appears in what it sends, so without usage it is billed its output cap.
   * Built-in tool calls are billed as seen (none when nothing was seen).
   */
  private estimated(generated: GeneratedOutput | null, toolCalls: Record<string, number>): MeteredUsage {
    const counted = generated ? countCompletionTokens(generated, this.model.encoding) : 0;
    const outputTokens = this.model.reasoning ? Math.max(counted, this.sentCap) : counted;
    return { inputTokens: this.promptTokens, cachedInputTokens: 0, outputTokens, reasoningTokens: 0, images: 0, toolCalls };
  }
}
