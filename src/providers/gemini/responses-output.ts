// Gemini's answer -> OpenAI's Responses wire format (pure): the Response object, and for streams its
// events with sequence numbers (response.created, response.in_progress, then per output item
// output_item.added, content_part.added, output_text.delta..., output_text.done, content_part.done,
// output_item.done, or for a function call its arguments delta and done; last the terminal
// response.completed or response.incomplete carrying the whole Response). A whole answer is the same
// translation run at once, so a stream and a non-stream answer with the same usage bill the same.
import type { GenerateContentResponse, GenerateContentResponseUsageMetadata } from '@google/genai';
import { newId } from '../../lib/ids.js';
import { finishReasonOf, toolCallOf, usageFrom, visibleParts } from './response.js';
import type { ResponsesEcho } from './responses-request.js';

/** Every Gemini response id starts with this, so a read of one is told apart from an unknown id. */
export const GEMINI_RESPONSE_ID_PREFIX = 'resp_gemini_';

export type ResponsesEvent = Record<string, unknown> & { type: string; sequence_number: number };
type Item = Record<string, unknown> & { id: string; type: 'message' | 'function_call' };

/** The Responses API's usage out of Gemini's usageMetadata (the chat translation's counts, renamed). */
export function responsesUsageFrom(metadata: GenerateContentResponseUsageMetadata | undefined): Record<string, unknown> | null {
  const usage = usageFrom(metadata);
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details.cached_tokens },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details.reasoning_tokens },
    total_tokens: usage.total_tokens,
  };
}

/** What one answer's Response objects share: its id, creation time and model. */
export interface ResponseMeta {
  id: string;
  createdAt: number;
  model: string;
}

export function responseMeta(first: GenerateContentResponse | undefined, model: string): ResponseMeta {
  return {
    id: `${GEMINI_RESPONSE_ID_PREFIX}${first?.responseId ?? newId('r', 18).slice(2)}`,
    createdAt: Math.floor(Date.now() / 1000),
    model: first?.modelVersion ?? model,
  };
}

export class ResponsesTranslator {
  private readonly items: Item[] = [];
  /** The message item text is being streamed into, and its text so far. */
  private open: { item: Item; index: number; text: string } | null = null;
  private sequence = 0;
  private usage: GenerateContentResponseUsageMetadata | undefined;
  private finishReason: string | undefined;
  private madeCalls = false;

  constructor(
    private readonly meta: ResponseMeta,
    private readonly echo: ResponsesEcho,
  ) {}

  /** Whether Gemini said why it stopped: the answer is complete. */
  get complete(): boolean {
    return this.finishReason !== undefined;
  }

  start(): ResponsesEvent[] {
    const opening = this.response('in_progress');
    return [this.event('response.created', { response: opening }), this.event('response.in_progress', { response: opening })];
  }

  push(answer: GenerateContentResponse): ResponsesEvent[] {
    // Each event carries the running totals: the last one is the answer's usage.
    if (answer.usageMetadata) this.usage = answer.usageMetadata;
    const candidate = answer.candidates?.[0];
    const events: ResponsesEvent[] = [];
    for (const part of visibleParts(candidate)) {
      if (typeof part.text === 'string' && part.text !== '') events.push(...this.text(part.text));
      if (part.functionCall) {
        events.push(...this.closeMessage());
        const call = toolCallOf(part.functionCall);
        this.madeCalls = true;
        const item: Item = { id: newId('fc', 18), type: 'function_call', status: 'in_progress', call_id: call.id, name: call.function.name, arguments: '' };
        const index = this.items.push(item) - 1;
        const args = call.function.arguments;
        const at = { item_id: item.id, output_index: index };
        events.push(this.event('response.output_item.added', { output_index: index, item: { ...item } }));
        events.push(this.event('response.function_call_arguments.delta', { ...at, delta: args }));
        events.push(this.event('response.function_call_arguments.done', { ...at, name: call.function.name, arguments: args }));
        Object.assign(item, { status: 'completed', arguments: args });
        events.push(this.event('response.output_item.done', { output_index: index, item: { ...item } }));
      }
    }
    this.finishReason ??= candidate?.finishReason ?? undefined;
    return events;
  }

  /** Gemini ended the answer: open items close and the terminal event carries the whole Response. */
  finish(): ResponsesEvent[] {
    const events = this.closeMessage();
    const response = this.final();
    events.push(this.event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response }));
    return events;
  }

  /** The whole Response, once every part was pushed (a non-stream answer, or a stream's terminal event). */
  final(): Record<string, unknown> & { status: string } {
    this.closeMessage(); // already closed, with its events, in a stream
    const reason = this.incompleteReason();
    return this.response(reason ? 'incomplete' : 'completed', reason);
  }

  /** The sequence number of the next event (for an error event appended after these). */
  nextSequenceNumber(): number {
    return this.sequence;
  }

  private text(delta: string): ResponsesEvent[] {
    const events: ResponsesEvent[] = [];
    if (!this.open) {
      const item: Item = { id: newId('msg', 18), type: 'message', status: 'in_progress', role: 'assistant', content: [] };
      const index = this.items.push(item) - 1;
      this.open = { item, index, text: '' };
      events.push(this.event('response.output_item.added', { output_index: index, item: { ...item, content: [] } }));
      events.push(this.event('response.content_part.added', { item_id: item.id, output_index: index, content_index: 0, part: outputText('') }));
    }
    this.open.text += delta;
    events.push(this.event('response.output_text.delta', { item_id: this.open.item.id, output_index: this.open.index, content_index: 0, delta, logprobs: [] }));
    return events;
  }

  private closeMessage(): ResponsesEvent[] {
    if (!this.open) return [];
    const { item, index, text } = this.open;
    this.open = null;
    const at = { item_id: item.id, output_index: index, content_index: 0 };
    // Closed by a function call, or at the end: then cut short if Gemini stopped at the cap or a filter.
    Object.assign(item, { status: this.complete && this.incompleteReason() ? 'incomplete' : 'completed', content: [outputText(text)] });
    return [
      this.event('response.output_text.done', { ...at, text, logprobs: [] }),
      this.event('response.content_part.done', { ...at, part: outputText(text) }),
      this.event('response.output_item.done', { output_index: index, item: { ...item } }),
    ];
  }

  /** OpenAI's incomplete_details.reason for how Gemini stopped; null for a complete answer. */
  private incompleteReason(): 'max_output_tokens' | 'content_filter' | null {
    const reason = finishReasonOf(this.finishReason, this.madeCalls);
    return reason === 'length' ? 'max_output_tokens' : reason === 'content_filter' ? 'content_filter' : null;
  }

  private event(type: string, fields: Record<string, unknown>): ResponsesEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }

  private response(status: 'in_progress' | 'completed' | 'incomplete', incompleteReason: string | null = null): Record<string, unknown> & { status: string } {
    const { meta, echo } = this;
    const done = status !== 'in_progress';
    const output = done ? this.items.map((item) => ({ ...item })) : [];
    return {
      id: meta.id,
      object: 'response',
      created_at: meta.createdAt,
      status,
      background: false,
      completed_at: status === 'completed' ? Math.floor(Date.now() / 1000) : null,
      error: null,
      incomplete_details: incompleteReason ? { reason: incompleteReason } : null,
      instructions: echo.instructions,
      max_output_tokens: echo.maxOutputTokens,
      max_tool_calls: null,
      model: meta.model,
      output,
      parallel_tool_calls: echo.parallelToolCalls,
      previous_response_id: null,
      reasoning: { effort: echo.reasoningEffort, summary: null },
      service_tier: 'default',
      store: false,
      temperature: echo.temperature ?? 1,
      text: { format: echo.textFormat },
      tool_choice: echo.toolChoice,
      tools: echo.tools,
      top_p: echo.topP ?? 1,
      truncation: 'disabled',
      usage: done ? responsesUsageFrom(this.usage) : null,
      user: null,
      metadata: echo.metadata,
    };
  }
}

function outputText(text: string): Record<string, unknown> {
  return { type: 'output_text', annotations: [], logprobs: [], text };
}
