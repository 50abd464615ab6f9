/**
 * Meters a Responses API SSE stream on its way to the client (SPEC 3.5, 3.6). Every event passes
 * through unchanged and in order (frames are cut at the blank lines that end SSE events, and forwarded
 * as the upstream sent them); the meter only reads them. Usage comes from the terminal event
 * (`response.completed`, `response.incomplete` or `response.failed`, each carrying the whole Response);
 * the stream has no `[DONE]`. What was generated is kept from the deltas, for an estimate when the
 * terminal event never comes.
 */
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { MeteredUsage, StreamMeter, StreamReading } from '../billing/metered-call/types.js';
import { GeneratedAccumulator, type GeneratedOutput } from './generated.js';
import { isJsonObject, isNonNegativeInteger, stringOrEmpty, type JsonObject } from './guards.js';
import { SseFrameSplitter } from './sse-frames.js';
import { usageFromResponses, type ProviderUsage } from './usage.js';

const TERMINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** Deltas that carry generated text, keyed by the item they belong to. */
const TEXT_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.reasoning_summary_text.delta',
  'response.reasoning_text.delta',
  'response.code_interpreter_call_code.delta',
]);
const CALL_DELTAS = new Set(['response.function_call_arguments.delta', 'response.custom_tool_call_input.delta', 'response.mcp_call_arguments.delta']);

export type ToolCallCounter = (items: readonly unknown[]) => Record<string, number>;

export class ResponsesStreamMeter implements StreamMeter {
  private readonly splitter = new SseFrameSplitter();
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private readonly generated = new GeneratedAccumulator();
  /** Output items as announced or finished, by output index (the terminal event's list replaces them). */
  private readonly items = new Map<number | string, unknown>();
  private usage: ProviderUsage | null = null;
  private finalResponse: JsonObject | null = null;
  private error: JsonObject | null = null;
  private lastSequenceNumber = -1;
  /** The response id, from the first event that carries the Response (`response.created`). */
  responseId: string | null = null;

  constructor(private readonly countToolCalls: ToolCallCounter) {
    this.parser = createParser({ onEvent: (event) => this.record(event) });
  }

  push(chunk: Uint8Array): Uint8Array[] {
    return this.read(this.splitter.push(chunk));
  }

  end(): Uint8Array[] {
    return this.read(this.splitter.end());
  }

  reading(): StreamReading {
    return {
      usage: this.usage && this.withToolCalls(this.usage),
      completed: this.finalResponse !== null,
      error: this.error,
      generatedOutput: !this.generated.isEmpty() || this.items.size > 0,
    };
  }

  /** The whole Response from the terminal event, once it arrived. */
  get final(): JsonObject | null {
    return this.finalResponse;
  }

  /** What was generated so far, for an estimate without usage. */
  generatedSoFar(): GeneratedOutput {
    return this.generated.snapshot();
  }

  /** Built-in tool calls seen so far: the terminal event's output when it came, else the items announced. */
  toolCallsSoFar(): Record<string, number> {
    return this.countToolCalls(this.finalResponse ? outputOf(this.finalResponse) : [...this.items.values()]);
  }

  /** The sequence number an event appended after the last one seen should carry. */
  nextSequenceNumber(): number {
    return this.lastSequenceNumber + 1;
  }

  withToolCalls(usage: ProviderUsage): MeteredUsage {
    return { ...usage, images: 0, toolCalls: this.toolCallsSoFar() };
  }

  private read(frames: readonly Uint8Array[]): Uint8Array[] {
    for (const frame of frames) {
      this.parser.feed(this.decoder.decode(frame));
      // A frame ends at a blank line, but the parser holds back a trailing lone CR and the last frame
      // may be unterminated: an explicit blank line makes it dispatch now (see openai-stream.ts).
      this.parser.feed('\n\n');
    }
    return frames as Uint8Array[];
  }

  private record(message: EventSourceMessage): void {
    const event = parseJson(message.data);
    if (!isJsonObject(event)) return;
    if (isNonNegativeInteger(event.sequence_number)) this.lastSequenceNumber = Math.max(this.lastSequenceNumber, event.sequence_number);
    const type = typeof event.type === 'string' ? event.type : message.event;
    if (type === undefined) return;
    if (TEXT_DELTAS.has(type)) this.generated.addContent(0, stringOrEmpty(event.delta));
    else if (CALL_DELTAS.has(type)) this.generated.addToolCallFragment(stringOrEmpty(event.item_id), { name: '', arguments: stringOrEmpty(event.delta) });
    else if (type === 'response.output_item.added' || type === 'response.output_item.done') this.recordItem(event, type);
    else if (type === 'response.created' || type === 'response.in_progress') this.recordResponse(event.response);
    else if (TERMINAL_EVENTS.has(type)) this.recordTerminal(type, event.response);
    else if (type === 'error') this.error = errorOf(event);
  }

  private recordItem(event: JsonObject, type: string): void {
    const { item } = event;
    if (!isJsonObject(item)) return;
    const key = isNonNegativeInteger(event.output_index) ? event.output_index : stringOrEmpty(item.id);
    this.items.set(key, item);
    // A tool call's name comes with its item; its arguments follow as deltas under the item's id.
    if (type === 'response.output_item.added' && typeof item.name === 'string' && typeof item.id === 'string') {
      this.generated.addToolCallFragment(item.id, { name: item.name, arguments: '' });
    }
  }

  private recordResponse(response: unknown): void {
    if (this.responseId === null && isJsonObject(response) && typeof response.id === 'string') this.responseId = response.id;
  }

  private recordTerminal(type: string, response: unknown): void {
    if (!isJsonObject(response)) return;
    this.recordResponse(response);
    this.finalResponse = response;
    const usage = usageFromResponses(response.usage);
    if (usage !== null) this.usage = usage;
    if (type === 'response.failed') this.error = isJsonObject(response.error) ? response.error : { message: 'The response failed.' };
  }
}

function outputOf(response: JsonObject): readonly unknown[] {
  return Array.isArray(response.output) ? response.output : [];
}

/** OpenAI documents the error event flat (`code`, `message`) but sends it nested under `error`: take either. */
function errorOf(event: JsonObject): JsonObject {
  if (isJsonObject(event.error)) return event.error;
  return { message: stringOrEmpty(event.message) || 'The provider reported an error.', code: event.code ?? null, param: event.param ?? null };
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined; // not JSON: forwarded as-is, not metered
  }
}
