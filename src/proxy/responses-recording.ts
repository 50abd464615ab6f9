// Records which account created each stored response while its answer passes through: the id is
// recorded before the client can see it (so a GET or a continuation right after always finds it), and
// the usage and output items once the response finished. A failed or slow write never holds the answer
// back for long: the response is billed and delivered regardless, and the failure is logged.
import { createParser } from 'eventsource-parser';
import type { Deps } from '../deps.js';
import { isJsonObject } from '../metering/guards.js';
import { outputItemsOf } from '../metering/responses-output.js';
import { SseFrameSplitter } from '../metering/sse-frames.js';
import { usageFromResponses } from '../metering/usage.js';
import type { ChatResponse } from '../providers/types.js';
import type { FinishedResponse, NewOwnedResponse, ResponseOwnership } from './responses-ownership.js';

type StreamResponse = Extract<ChatResponse, { kind: 'stream' }>;

/** How long an ownership write may hold an answer back (Postgres slow or down). */
const RECORD_TIMEOUT_MS = 2_000;

export class ResponseRecorder {
  constructor(
    private readonly deps: Deps,
    private readonly ownership: ResponseOwnership,
    private readonly owner: Omit<NewOwnedResponse, 'id'>,
  ) {}

  /** A whole answer: its id, usage and items are all known at once. */
  async recordBuffered(bytes: Uint8Array): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      return; // not JSON: the lifecycle answers 502 and nothing was stored for the client
    }
    if (!isJsonObject(json) || typeof json.id !== 'string') return;
    await this.guard(json.id, this.ownership.record({ ...this.owner, id: json.id }, finishedOf(json)));
  }

  /**
   * Passes the stream's chunks on unchanged, holding back the chunk that first carries the response id
   * until the id is recorded; when the stream ends (or is closed), records `finished()`.
   */
  wrapStream(response: StreamResponse, finished: () => FinishedResponse | null): StreamResponse {
    return { ...response, chunks: this.recordingChunks(response.chunks, finished) };
  }

  private async *recordingChunks(chunks: StreamResponse['chunks'], finished: () => FinishedResponse | null): AsyncGenerator<Uint8Array, undefined, undefined> {
    const scanner = new ResponseIdScanner();
    let responseId: string | null = null;
    try {
      for (;;) {
        const next = await chunks.next();
        if (next.done) break;
        if (responseId === null) {
          responseId = scanner.push(next.value);
          if (responseId !== null) await this.guard(responseId, this.ownership.record({ ...this.owner, id: responseId }));
        }
        yield next.value;
      }
    } finally {
      const result = responseId === null ? null : finished();
      if (responseId !== null && result !== null) await this.guard(responseId, this.ownership.finish(this.owner.accountId, responseId, result));
      await chunks.return?.(undefined);
    }
    return undefined;
  }

  private async guard(responseId: string, write: Promise<void>): Promise<void> {
    const context = { requestId: this.owner.requestId, responseId };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), RECORD_TIMEOUT_MS)));
    const written = write.then(
      () => 'ok' as const,
      (error: unknown) => {
        this.deps.log.error({ err: error, ...context }, 'could not record the owner of a stored response; the account cannot read or continue it');
        return 'failed' as const;
      },
    );
    try {
      if ((await Promise.race([written, late])) === 'late') this.deps.log.warn(context, 'recording the owner of a stored response is slow; the answer goes on meanwhile');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The usage and output items of a whole Response object. */
export function finishedOf(response: unknown): FinishedResponse {
  const usage = isJsonObject(response) ? usageFromResponses(response.usage) : null;
  const itemIds = outputItemsOf(response).flatMap((item) => (isJsonObject(item) && typeof item.id === 'string' ? [item.id] : []));
  return { inputTokens: usage?.inputTokens ?? null, outputTokens: usage?.outputTokens ?? null, itemIds };
}

/** Finds the response id in the first events of a Responses stream (`response.created` carries it). */
class ResponseIdScanner {
  private readonly splitter = new SseFrameSplitter();
  private readonly decoder = new TextDecoder();
  private found: string | null = null;
  private readonly parser = createParser({
    onEvent: (event) => {
      if (this.found !== null) return;
      try {
        const data: unknown = JSON.parse(event.data);
        const response = isJsonObject(data) ? data.response : undefined;
        if (isJsonObject(response) && typeof response.id === 'string') this.found = response.id;
      } catch {
        // not JSON: not the event we look for
      }
    },
  });

  push(chunk: Uint8Array): string | null {
    for (const frame of this.splitter.push(chunk)) {
      this.parser.feed(this.decoder.decode(frame));
      this.parser.feed('\n\n');
      if (this.found !== null) break;
    }
    return this.found;
  }
}
