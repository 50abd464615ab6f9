// Gemini's streamed answer -> OpenAI chat.completion.chunk events, as SSE bytes.
//
// ChunkTranslator is pure: each Gemini response becomes zero or more chunks (role first, text deltas,
// each tool call as an id/name chunk and then its arguments, the finish reason once), and the end adds
// the usage chunk (`choices: []`) when the body asked for include_usage. GeminiEventStream pulls from
// the SDK and hands out bytes; it ends with `data: [DONE]` only when Gemini gave a finish reason, so a
// stream that broke off is seen as broken.
import { ApiError, type GenerateContentResponse, type GenerateContentResponseUsageMetadata } from '@google/genai';
import type { UpstreamDeadline } from '../upstream-deadline.js';
import { mapGoogleError, parseGoogleError } from './errors.js';
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

const encoder = new TextEncoder();
const frame = (chunk: object) => encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`);
const DONE = encoder.encode('data: [DONE]\n\n');

/**
 * The SSE bytes of one streamed answer. A plain iterator rather than an async generator: `return()`
 * must end the upstream call at once, even while a read is pending (a generator would wait for it).
 */
export class GeminiEventStream implements AsyncIterator<Uint8Array, undefined, undefined> {
  private readonly frames: Uint8Array[] = [];
  private ended = false;

  constructor(
    private readonly upstream: AsyncIterator<GenerateContentResponse>,
    private readonly translator: ChunkTranslator,
    private readonly deadline: UpstreamDeadline,
    first: GenerateContentResponse | null,
  ) {
    this.frames.push(frame(translator.start()));
    if (first) this.frames.push(...translator.push(first).map(frame));
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
      // An error event inside the stream: passed on as OpenAI does, and the stream ends without [DONE].
      if (error instanceof ApiError && !this.deadline.callerAborted) {
        this.frames.push(frame(mapGoogleError(error.status, parseGoogleError(error.message), '').body));
        return;
      }
      throw error; // the connection broke, or the caller aborted
    }
    if (this.ended) return; // closed by return() while this read was pending
    if (result.done) {
      this.finish();
      this.frames.push(...this.translator.end().map(frame));
      if (this.translator.complete) this.frames.push(DONE);
      return;
    }
    this.frames.push(...this.translator.push(result.value).map(frame));
  }

  private finish(): void {
    this.ended = true;
    this.deadline.dispose();
  }
}
