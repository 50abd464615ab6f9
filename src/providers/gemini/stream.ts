// Gemini's streamed answer -> the client's wire format, as SSE bytes.
//
// ChunkTranslator is pure: each Gemini response becomes zero or more chat.completion.chunk events
// (role first, text deltas, each tool call as an id/name chunk and then its arguments, the finish
// reason once), and the end adds the usage chunk (`choices: []`) when the body asked for
// include_usage. ChatFrames makes them SSE frames, ending with `data: [DONE]` only when Gemini gave a
// finish reason, so a stream that broke off is seen as broken. GeminiEventStream pulls from the SDK
// and hands out the frames of any FrameTranslator (chat's, or the Responses API's in responses-stream.ts).
import { ApiError, type GenerateContentResponse, type GenerateContentResponseUsageMetadata } from '@google/genai';
import type { UpstreamDeadline } from '../upstream-deadline.js';
import { mapGoogleError, parseGoogleError, type MappedError } from './errors.js';
import { finishReasonOf, toolCallOf, usageFrom, visibleParts, type AnswerMeta } from './response.js';

type Chunk = Record<string, unknown>;

export class ChunkTranslator {
  private toolCalls = 0;
  private usage: GenerateContentResponseUsageMetadata | undefined;
  private finished = false;

  constructor(
    private readonly meta: AnswerMeta,
    private readonly includeUsage: boolean,
  ) {}

  /** Whether Gemini said why it stopped: the answer is complete. */
  get complete(): boolean {
    return this.finished;
  }

  start(): Chunk {
    return this.chunk({ role: 'assistant', content: '', refusal: null });
  }

  push(response: GenerateContentResponse): Chunk[] {
    // Each event carries the running totals: the last one is the answer's usage.
    if (response.usageMetadata) this.usage = response.usageMetadata;
    const candidate = response.candidates?.[0];
    const out: Chunk[] = [];
    for (const part of visibleParts(candidate)) {
      if (typeof part.text === 'string' && part.text !== '') out.push(this.chunk({ content: part.text }));
      if (part.functionCall) {
        const call = toolCallOf(part.functionCall);
        const index = this.toolCalls++;
        out.push(this.chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }));
        out.push(this.chunk({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] }));
      }
    }
    if (candidate?.finishReason && !this.finished) {
      this.finished = true;
      out.push(this.chunk({}, finishReasonOf(candidate.finishReason, this.toolCalls > 0)));
    }
    return out;
  }

  end(): Chunk[] {
    const usage = usageFrom(this.usage);
    if (!this.includeUsage || !usage) return [];
    return [{ id: this.meta.id, object: 'chat.completion.chunk', created: this.meta.created, model: this.meta.model, choices: [], usage }];
  }

  private chunk(delta: Chunk, finishReason: string | null = null): Chunk {
    const { id, created, model } = this.meta;
    return { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  }
}

/** Gemini's streamed answer as the SSE frames of one wire format. */
export interface FrameTranslator {
  /** Frames owed before any content (chat's role chunk; the Responses API's created and in_progress). */
  start(): Uint8Array[];
  push(response: GenerateContentResponse): Uint8Array[];
  /** Gemini ended the stream: the closing frames (the terminal one only when Gemini said why it stopped). */
  end(): Uint8Array[];
  /** An error event inside the stream, in the wire format's shape; the stream ends after it. */
  error(error: MappedError): Uint8Array[];
}

const encoder = new TextEncoder();
const frame = (chunk: object) => encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`);
const DONE = encoder.encode('data: [DONE]\n\n');

/** Chat completion chunks as SSE frames; `[DONE]` only after a finish reason. */
export class ChatFrames implements FrameTranslator {
  constructor(private readonly chunks: ChunkTranslator) {}

  start(): Uint8Array[] {
    return [frame(this.chunks.start())];
  }

  push(response: GenerateContentResponse): Uint8Array[] {
    return this.chunks.push(response).map(frame);
  }

  end(): Uint8Array[] {
    const frames = this.chunks.end().map(frame);
    if (this.chunks.complete) frames.push(DONE);
    return frames;
  }

  /** As OpenAI passes an error inside a chat stream: the error body as a data frame. */
  error(error: MappedError): Uint8Array[] {
    return [frame(error.body)];
  }
}

/**
 * The SSE bytes of one streamed answer. A plain iterator rather than an async generator: `return()`
 * must end the upstream call at once, even while a read is pending (a generator would wait for it).
 */
export class GeminiEventStream implements AsyncIterator<Uint8Array, undefined, undefined> {
  private readonly frames: Uint8Array[] = [];
  private ended = false;

  constructor(
    private readonly upstream: AsyncIterator<GenerateContentResponse>,
    private readonly translator: FrameTranslator,
    private readonly deadline: UpstreamDeadline,
    first: GenerateContentResponse | null,
  ) {
    this.frames.push(...translator.start());
    if (first) this.frames.push(...translator.push(first));
  }

  async next(): Promise<IteratorResult<Uint8Array, undefined>> {
    while (this.frames.length === 0 && !this.ended) await this.pull();
    const value = this.frames.shift();
    return value ? { done: false, value } : { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (!this.ended) {
      this.ended = true;
      this.deadline.abort();
    }
    this.frames.length = 0;
    return { done: true, value: undefined };
  }

  private async pull(): Promise<void> {
    let result: IteratorResult<GenerateContentResponse>;
    try {
      result = await this.upstream.next();
    } catch (error) {
      this.finish();
      // An error event inside the stream: passed on in the wire format's shape, and the stream ends there.
      if (error instanceof ApiError && !this.deadline.callerAborted) {
        this.frames.push(...this.translator.error(mapGoogleError(error.status, parseGoogleError(error.message), '')));
        return;
      }
      throw error; // the connection broke, or the caller aborted
    }
    if (this.ended) return; // closed by return() while this read was pending
    if (result.done) {
      this.finish();
      this.frames.push(...this.translator.end());
      return;
    }
    this.frames.push(...this.translator.push(result.value));
  }

  private finish(): void {
    this.ended = true;
    this.deadline.dispose();
  }
}
