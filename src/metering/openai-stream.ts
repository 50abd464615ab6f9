/**
 * Meters an upstream OpenAI chat completion SSE stream on its way to the client (SPEC 3.5, 3.6).
 *
 * Byte-exact pass-through comes from forwarding the upstream's own bytes, frame by frame: the
 * stream is cut at the blank lines that end SSE events (SseFrameSplitter, the one SSE rule that
 * decides what a client sees as one event), and each frame is handed to eventsource-parser, which
 * interprets its fields (data, event, id, comments, multi-line data, BOM). A frame is forwarded
 * untouched unless it is the usage chunk the client did not ask for: a usage-only chunk is dropped,
 * and usage riding on a chunk with choices is removed by re-serializing that one event. Holding a
 * frame until its blank line costs no latency a client could use, since it cannot act on half an event.
 *
 * With include_usage, OpenAI also puts `"usage": null` on every other chunk. Those pass through
 * unchanged: removing them would mean rewriting every event, and clients already accept the field.
 *
 * Only chunks that can carry usage or an error are JSON-parsed as they pass (found by a scan for a
 * non-null `"usage"` key or an `"error"` key: inside a JSON string a quote is always escaped, so the
 * scan cannot be fooled by generated text, and a false positive only costs a parse). The generated
 * output (for an estimate when no usage comes) is read from the kept chunk data only when it is
 * asked for, or when the kept data grows past PENDING_MAX_CHARS.
 */
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { StreamMeter, StreamReading } from '../billing/metered-call/types.js';
import { GeneratedAccumulator, type GeneratedOutput } from './generated.js';
import { arrayOrEmpty, isJsonObject, stringOrEmpty, type JsonObject } from './guards.js';
import { SseFrameSplitter } from './sse-frames.js';
import { usageFromOpenAI, type ProviderUsage } from './usage.js';

const CARRIES_USAGE_OR_ERROR = /"usage"\s*:\s*(?!null\b)|"error"\s*:/;
/** Unparsed chunk data kept beyond this is parsed into the generated output (bounds memory). */
const PENDING_MAX_CHARS = 256 * 1024;

export type OpenAIStreamResult = {
  /** The provider's usage, when a chunk carried it (the last one wins). */
  usage: ProviderUsage | null;
  /** Everything generated so far, for estimating output when `usage` is null. */
  generated: GeneratedOutput;
  /** Whether `data: [DONE]` arrived, i.e. the provider finished the stream normally. */
  sawDone: boolean;
  /** An `error` object the provider sent inside the stream (a string error is wrapped as `{ message }`). */
  error: JsonObject | null;
};

export type OpenAIStreamMeterOptions = {
  /** True when the gateway added include_usage and the client did not ask for usage (see requestWantsUsage). */
  stripUsageChunk: boolean;
  /**
   * Billing tokens for a reported usage. When given (and the usage chunk is kept), the usage chunk the
   * client sees also carries `usage.cost`, like OpenRouter's: a stream has no x-tokengate-cost header.
   */
  costOf?: (usage: ProviderUsage) => number;
};

export type StreamOptionsCarrier = { stream_options?: { include_usage?: boolean } | null };

export function requestWantsUsage(body: StreamOptionsCarrier): boolean {
  return body.stream_options?.include_usage === true;
}

export function withIncludeUsage<T extends StreamOptionsCarrier>(body: T): T & { stream_options: { include_usage: true } } {
  return { ...body, stream_options: { ...body.stream_options, include_usage: true } };
}

/**
 * Feed the upstream body through push()/end(); read `result()` at any time, including after the
 * client cancelled midway (it then holds what passed through before).
 */
export class OpenAIStreamMeter implements StreamMeter {
  private readonly splitter = new SseFrameSplitter();
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();
  private readonly generated = new GeneratedAccumulator();
  private parsedEvents: EventSourceMessage[] = [];
  private usage: ProviderUsage | null = null;
  private sawDone = false;
  private error: JsonObject | null = null;
  /** Chunk data whose choices are not read yet, in stream order. */
  private pending: string[] = [];
  private pendingChars = 0;

  constructor(private readonly options: OpenAIStreamMeterOptions) {
    this.parser = createParser({ onEvent: (event) => this.parsedEvents.push(event) });
  }

  /** Feeds upstream bytes; returns the bytes to forward to the client now (whole events only). */
  push(chunk: Uint8Array): Uint8Array[] {
    return this.forward(this.splitter.push(chunk));
  }

  /** The upstream ended: returns whatever was held back (an event with no final blank line). */
  end(): Uint8Array[] {
    return this.forward(this.splitter.end());
  }

  result(): OpenAIStreamResult {
    this.parsePending();
    return { usage: this.usage, generated: this.generated.snapshot(), sawDone: this.sawDone, error: this.error };
  }

  reading(): StreamReading {
    const meter = this;
    return {
      usage: this.usage && { ...this.usage, images: 0 },
      completed: this.sawDone,
      error: this.error,
      // Read only when billing needs it (no usage came): the chunks are parsed then.
      get generatedOutput() {
        meter.parsePending();
        return !meter.generated.isEmpty();
      },
    };
  }

  private forward(frames: readonly Uint8Array[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const frame of frames) {
      const output = this.processFrame(frame);
      if (output !== null) out.push(output);
    }
    return out;
  }

  /** Records what the frame carries and returns the bytes to forward, or null to drop it. */
  private processFrame(frame: Uint8Array): Uint8Array | null {
    const events = this.parseFrame(frame);
    const chunks = events.map((event) => this.record(event));
    const [event] = events;
    const [chunk] = chunks;
    // Comments, keep-alives and anything not exactly one JSON chunk go through untouched.
    if (events.length !== 1 || event === undefined || !chunk) return frame;
    if (this.options.stripUsageChunk) return this.withoutUsage(frame, event, chunk);
    return this.options.costOf ? this.withCost(frame, event, chunk, this.options.costOf) : frame;
  }

  /** The usage chunk with `usage.cost` added (only a chunk whose usage is billable as reported). */
  private withCost(frame: Uint8Array, event: EventSourceMessage, chunk: JsonObject, costOf: (usage: ProviderUsage) => number): Uint8Array {
    const usage = usageFromOpenAI(chunk.usage);
    if (usage === null || !isJsonObject(chunk.usage)) return frame;
    const withCost = { ...chunk, usage: { ...chunk.usage, cost: costOf(usage) } };
    return this.encoder.encode(serializeEvent(event, JSON.stringify(withCost), lineEndingOf(frame)));
  }

  private parseFrame(frame: Uint8Array): EventSourceMessage[] {
    this.parsedEvents = [];
    this.parser.feed(this.decoder.decode(frame));
    // Frames end at a blank line, but the parser holds back a trailing lone CR (it might start a
    // CRLF) and the last frame may be unterminated; an explicit blank line makes it dispatch now.
    this.parser.feed('\n\n');
    return this.parsedEvents;
  }

  /** Returns the event's JSON chunk when it was parsed (it may carry usage), else null. */
  private record(event: EventSourceMessage): JsonObject | null {
    if (event.data === '[DONE]') {
      this.sawDone = true;
      return null;
    }
    let chunk: JsonObject | null = null;
    if (CARRIES_USAGE_OR_ERROR.test(event.data)) {
      const parsed = parseJson(event.data);
      if (!isJsonObject(parsed)) return null;
      chunk = parsed;
      const usage = usageFromOpenAI(chunk.usage);
      if (usage !== null) this.usage = usage;
      if (chunk.error !== undefined && chunk.error !== null) this.error = asErrorObject(chunk.error);
      if (arrayOrEmpty(chunk.choices).length === 0) return chunk;
    }
    // The generated output (choices) is read later, in stream order, and only if it is needed.
    this.pending.push(event.data);
    this.pendingChars += event.data.length;
    if (this.pendingChars > PENDING_MAX_CHARS) this.parsePending();
    return chunk;
  }

  private parsePending(): void {
    const { pending } = this;
    if (pending.length === 0) return;
    this.pending = [];
    this.pendingChars = 0;
    for (const data of pending) {
      const chunk = parseJson(data);
      if (isJsonObject(chunk)) for (const choice of arrayOrEmpty(chunk.choices)) this.recordChoice(choice);
    }
  }

  private recordChoice(choice: unknown): void {
    if (!isJsonObject(choice) || !isJsonObject(choice.delta)) return;
    const choiceIndex = typeof choice.index === 'number' ? choice.index : 0;
    const delta = choice.delta;
    this.generated.addContent(choiceIndex, stringOrEmpty(delta.content));
    this.generated.addContent(choiceIndex, stringOrEmpty(delta.refusal));
    arrayOrEmpty(delta.tool_calls).forEach((call, position) => this.recordToolCall(choiceIndex, call, position));
    if (isJsonObject(delta.function_call)) {
      this.generated.addToolCallFragment(`${choiceIndex}:function_call`, functionFragment(delta.function_call));
    }
  }

  private recordToolCall(choiceIndex: number, call: unknown, position: number): void {
    if (!isJsonObject(call) || !isJsonObject(call.function)) return;
    const callIndex = typeof call.index === 'number' ? call.index : position;
    this.generated.addToolCallFragment(`${choiceIndex}:${callIndex}`, functionFragment(call.function));
  }

  private withoutUsage(frame: Uint8Array, event: EventSourceMessage, chunk: JsonObject): Uint8Array | null {
    if (chunk.usage === undefined || chunk.usage === null) return frame;
    if (arrayOrEmpty(chunk.choices).length === 0) return null;
    const withoutUsage = { ...chunk };
    delete withoutUsage.usage;
    return this.encoder.encode(serializeEvent(event, JSON.stringify(withoutUsage), lineEndingOf(frame)));
  }
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined; // Not JSON: forwarded as-is and not metered, like any unknown event.
  }
}

function asErrorObject(error: unknown): JsonObject {
  return isJsonObject(error) ? error : { message: String(error) };
}

function functionFragment(fn: JsonObject): { name: string; arguments: string } {
  return { name: stringOrEmpty(fn.name), arguments: stringOrEmpty(fn.arguments) };
}

function serializeEvent(event: EventSourceMessage, data: string, eol: string): string {
  const lines: string[] = [];
  if (event.event !== undefined) lines.push(`event: ${event.event}`);
  if (event.id !== undefined) lines.push(`id: ${event.id}`);
  lines.push(`data: ${data}`);
  return lines.join(eol) + eol + eol;
}

/** The rewritten event keeps the upstream's line ending style. */
function lineEndingOf(frame: Uint8Array): string {
  const index = frame.findIndex((byte) => byte === 0x0a || byte === 0x0d);
  if (index === -1 || frame[index] === 0x0a) return '\n';
  return frame[index + 1] === 0x0a ? '\r\n' : '\r';
}
