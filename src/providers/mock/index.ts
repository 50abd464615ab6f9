// The built-in `mock` provider: deterministic text with realistic usage, streamed or not, so metering
// works with no provider key and benchmarks have a zero-cost upstream. Knobs (request headers):
// x-mock-output-tokens (default 32), x-mock-chunks (content chunks when streaming, default 8),
// x-mock-latency-ms (spread over the response), x-mock-usage: none (report no usage, as some providers do).
import { setTimeout as sleep } from 'node:timers/promises';
import { countTokens, estimatePromptTokens } from '../../metering/tokenizer.js';
import type { ChatProvider, ChatRequest, ChatResponse } from '../types.js';

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

export class MockProvider implements ChatProvider {
  readonly name = 'mock';

  async chat(request: ChatRequest): Promise<ChatResponse> {
    const plan = planResponse(request);
    const id = `chatcmpl-mock-${Date.now().toString(36)}`;
    const model = String(request.body.model);
    if (!request.stream) {
      await sleep(plan.latencyMs, undefined, { signal: request.signal });
      return json(completion(id, model, plan));
    }
    return sse(streamEvents(id, model, plan, wantsUsage(request.body), request.signal));
  }
}

function planResponse({ body, headers, model }: ChatRequest): MockPlan {
  const wanted = intHeader(headers, 'x-mock-output-tokens', 32);
  const cap = Number(body.max_completion_tokens ?? body.max_tokens ?? model.maxOutputTokens);
  const target = Math.max(0, Math.min(wanted, cap));
  const text = textOfTokens(target, model.encoding);
  return {
    text,
    promptTokens: estimatePromptTokens(body, model.encoding),
    completionTokens: countTokens(text, model.encoding),
    finishReason: target < wanted ? 'length' : 'stop',
    chunks: Math.max(1, intHeader(headers, 'x-mock-chunks', 8)),
    latencyMs: intHeader(headers, 'x-mock-latency-ms', 0),
    reportUsage: headers.get('x-mock-usage') !== 'none',
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

function intHeader(headers: Headers, name: string, fallback: number): number {
  const value = Number(headers.get(name));
  return headers.has(name) && Number.isInteger(value) && value >= 0 ? value : fallback;
}

function json(body: unknown): ChatResponse {
  const bytes = encoder.encode(JSON.stringify(body));
  return { status: 200, contentType: 'application/json', body: new Blob([bytes]).stream(), passHeaders: {} };
}

function sse(events: AsyncGenerator<unknown>): ChatResponse {
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done) {
          controller.enqueue(encoder.encode('data: [DONE]\n\n'));
          controller.close();
        } else {
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(next.value)}\n\n`));
        }
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await events.return(undefined);
    },
  });
  return { status: 200, contentType: 'text/event-stream', body, passHeaders: {} };
}
