// The built-in `mock` provider: deterministic text with realistic usage, streamed or not, so metering
// works with no provider key and benchmarks have a zero-cost upstream. Knobs (request headers), each
// bounded so that a client cannot use the mock to hold connections and holds open:
//   x-mock-output-tokens  default 32, at most the request's cap and the model's maxOutputTokens
//                         (finish_reason "length" when the cap cut it short)
//   x-mock-chunks         content chunks when streaming, default 8, 1..MAX_CHUNKS
//   x-mock-latency-ms     spread over the response; more than UPSTREAM_TIMEOUT_MS behaves like a silent
//                         provider: 504 upstream_timeout once the timeout passes (the shared deadline)
//   x-mock-usage: none    report no usage, as some providers do
// A knob that is not a non-negative integer falls back to its default.
import { setTimeout as sleep } from 'node:timers/promises';
import { countTokens, estimatePromptTokens } from '../../metering/tokenizer.js';
import type { ChatProvider, ChatRequest, ChatResponse } from '../types.js';
import { UpstreamDeadline } from '../upstream-deadline.js';

export const MAX_CHUNKS = 1000;

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '. '];
const encoder = new TextEncoder();

interface MockPlan {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'stop' | 'length';
  chunks: number;
  latencyMs: number;
  reportUsage: boolean;
}

export interface MockProviderOptions {
  /** UPSTREAM_TIMEOUT_MS: the mock keeps the same timeout rules as a real provider. */
  timeoutMs: number;
}

export class MockProvider implements ChatProvider {
  readonly name = 'mock';

  constructor(private readonly options: MockProviderOptions) {}

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const plan = planResponse(request);
    const id = `chatcmpl-mock-${Date.now().toString(36)}`;
    const model = String(request.body.model);
    const deadline = new UpstreamDeadline('The mock provider', this.options.timeoutMs, request.signal);
    try {
      // Asked to take longer than the timeout allows: stay silent, like a stuck provider, until the
      // deadline gives up (504), or the client does.
      if (plan.latencyMs > this.options.timeoutMs) await untilAborted(deadline.signal);
      if (!request.stream) {
        await sleep(plan.latencyMs, undefined, { signal: deadline.signal });
        deadline.dispose();
        return { kind: 'buffered', status: 200, passHeaders: {}, bytes: encoder.encode(JSON.stringify(completion(id, model, plan))) };
      }
      deadline.dispose();
      return { kind: 'stream', status: 200, passHeaders: {}, chunks: sse(streamEvents(id, model, plan, wantsUsage(request.body), request.signal)) };
    } catch (error) {
      throw deadline.explain(error);
    }
  }
}

function planResponse({ body, header, model }: ChatRequest): MockPlan {
  const wanted = intHeader(header, 'x-mock-output-tokens', 32);
  const requested = Number(body.max_completion_tokens ?? body.max_tokens ?? model.maxOutputTokens);
  const cap = Math.min(Number.isFinite(requested) ? requested : model.maxOutputTokens, model.maxOutputTokens);
  const target = Math.max(0, Math.min(wanted, cap));
  const text = textOfTokens(target, model.encoding);
  return {
    text,
    promptTokens: estimatePromptTokens(body, model.encoding),
    completionTokens: countTokens(text, model.encoding),
    finishReason: target < wanted ? 'length' : 'stop',
    chunks: Math.min(MAX_CHUNKS, Math.max(1, intHeader(header, 'x-mock-chunks', 8))),
    latencyMs: intHeader(header, 'x-mock-latency-ms', 0),
    reportUsage: header('x-mock-usage') !== 'none',
  };
}

/** Deterministic text of at most `tokens` tokens (most words of WORDS are one token each). */
function textOfTokens(tokens: number, encoding: Parameters<typeof countTokens>[1]): string {
  const words = Array.from({ length: tokens }, (_, i) => WORDS[i % WORDS.length]!);
  while (words.length > 0 && countTokens(words.join('').trimEnd(), encoding) > tokens) words.pop();
  return words.join('').trimEnd();
}

function usage(plan: MockPlan) {
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: plan.completionTokens,
    total_tokens: plan.promptTokens + plan.completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function completion(id: string, model: string, plan: MockPlan) {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: plan.text, refusal: null }, finish_reason: plan.finishReason, logprobs: null }],
    ...(plan.reportUsage ? { usage: usage(plan) } : {}),
  };
}

async function* streamEvents(id: string, model: string, plan: MockPlan, includeUsage: boolean, signal: AbortSignal): AsyncGenerator<unknown> {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  });
  yield chunk({ role: 'assistant', content: '', refusal: null });
  const pieces = splitWords(plan.text, plan.chunks);
  for (const piece of pieces) {
    if (plan.latencyMs > 0) await sleep(plan.latencyMs / pieces.length, undefined, { signal });
    yield chunk({ content: piece });
  }
  yield chunk({}, plan.finishReason);
  if (includeUsage && plan.reportUsage) yield { id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(plan) };
}

/** Splits text into at most `parts` pieces at word starts, as a model streams whole tokens. */
function splitWords(text: string, parts: number): string[] {
  const words = text.match(/\s*\S+/g) ?? [];
  const perPiece = Math.ceil(words.length / parts);
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += perPiece) pieces.push(words.slice(i, i + perPiece).join(''));
  return pieces;
}

function wantsUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options as { include_usage?: unknown } | undefined;
  return options?.include_usage === true;
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function intHeader(header: ChatRequest['header'], name: string, fallback: number): number {
  const raw = header(name);
  const value = Number(raw);
  return raw !== undefined && Number.isInteger(value) && value >= 0 ? value : fallback;
}

async function* sse(events: AsyncGenerator<unknown>): AsyncGenerator<Uint8Array> {
  for await (const event of events) yield encoder.encode(`data: ${JSON.stringify(event)}\n\n`);
  yield encoder.encode('data: [DONE]\n\n');
}
