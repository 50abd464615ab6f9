// Relays a provider's stream to the client through the operation's meter. One loop owns the upstream
// iterator: it forwards while the client reads (with backpressure), keeps reading without forwarding
// after the client leaves (drain: the usage the provider bills usually comes last), and settles once,
// before the client's stream closes, so a balance read right after already shows the charge.
import type { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ChatResponse } from '../../providers/types.js';
import { MAX_REPLAY_BYTES } from './idempotency-gate.js';
import type { MeteredCall } from './call.js';
import type { StreamMeter } from './types.js';

type StreamResponse = Extract<ChatResponse, { kind: 'stream' }>;

/** 'completed': the upstream ended by itself; 'broke': it failed, was cut, or drained too much. */
export type StreamEnding = 'completed' | 'broke';

export const STREAM_HEADERS: Record<string, string> = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

/** After the client left, at most this many more upstream bytes are read while waiting for usage. */
export const DRAIN_MAX_BYTES = 16 * 1024 * 1024;

export function relayStream(call: MeteredCall, meter: StreamMeter, response: StreamResponse, outgoing: ServerResponse | null): Response {
  const replay = new ReplayCopy(call.keepsReplay);
  const headers = { ...response.passHeaders, ...STREAM_HEADERS };
  if (outgoing) {
    // Straight to Node's response: headers with the first frames in one write, one write per upstream
    // read, no web stream between (node-server is told the answer is already sent).
    void pump(call, meter, response.chunks, new NodeSink(outgoing, { ...headers, 'x-request-id': call.requestId }, call), replay);
    return RESPONSE_ALREADY_SENT;
  }
  let sink!: WebSink;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = new WebSink(controller, call);
      void pump(call, meter, response.chunks, sink, replay);
    },
    pull() {
      call.wakeRelay?.();
    },
    cancel() {
      call.onClientGone(); // also wakes the relay
    },
  });
  return new Response(body, { status: 200, headers });
}

/** Where the relay writes the client's stream. */
interface StreamSink {
  /** Sends frames (an empty list still starts the response); false when the client should be waited for. */
  send(frames: Uint8Array[]): boolean;
  /** Resolves when the client can take more, or has left (onClientGone wakes the relay). */
  writable(): Promise<void>;
  close(): void;
}

class NodeSink implements StreamSink {
  private started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    private readonly call: MeteredCall,
  ) {}

  send(frames: Uint8Array[]): boolean {
    const { res } = this;
    if (res.destroyed) return true;
    if (!this.started) {
      this.started = true;
      res.writeHead(200, this.headers); // sent with the first write, or now if there is nothing to write
      if (frames.length === 0) res.flushHeaders();
    }
    if (frames.length === 0) return true;
    // One HTTP chunk per upstream read: each write of a chunked response adds its own framing.
    return res.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  writable(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.call.wakeRelay = null;
        resolve();
      };
      this.call.wakeRelay = done;
      this.res.on('drain', done);
    });
  }

  close(): void {
    if (this.res.destroyed) return;
    if (!this.started) this.send([]);
    this.res.end();
  }
}

class WebSink implements StreamSink {
  constructor(
    private readonly controller: ReadableStreamDefaultController<Uint8Array>,
    private readonly call: MeteredCall,
  ) {}

  send(frames: Uint8Array[]): boolean {
    for (const frame of frames) {
      try {
        this.controller.enqueue(frame);
      } catch {
        // Cancelled between our check and the enqueue: cancel() has marked the client gone.
      }
    }
    return (this.controller.desiredSize ?? 1) > 0;
  }

  writable(): Promise<void> {
    return new Promise<void>((resolve) => (this.call.wakeRelay = resolve)).finally(() => (this.call.wakeRelay = null));
  }

  close(): void {
    try {
      this.controller.close();
    } catch {
      // The client left in the meantime: its stream is already closed.
    }
  }
}

async function pump(call: MeteredCall, meter: StreamMeter, chunks: StreamResponse['chunks'], sink: StreamSink, replay: ReplayCopy): Promise<void> {
  let ending: StreamEnding = 'completed';
  let failure: unknown;
  let drainedBytes = 0;
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      const frames = meter.push(next.value);
      replay.add(frames);
      if (call.clientGone) {
        drainedBytes += next.value.length;
        if (drainedBytes > DRAIN_MAX_BYTES) {
          ending = 'broke';
          break;
        }
        continue;
      }
      // Backpressure: wait until the client reads or leaves.
      if (!sink.send(frames) && !call.clientGone) await sink.writable();
    }
  } catch (error) {
    ending = 'broke';
    failure = error;
  } finally {
    // Closes the upstream response when the loop stopped early; harmless after its end.
    await chunks.return?.(undefined).catch(() => undefined);
  }
  if (ending === 'completed' && call.abortReason !== null) ending = 'broke'; // ended because we cut it
  if (ending === 'completed') {
    const tail = meter.end();
    replay.add(tail);
    if (!call.clientGone && tail.length > 0) sink.send(tail);
  }
  await call.finishStream(ending, replay.bytes());
  if (call.clientGone) return;
  // A stream cut short ends with the wire format's error event (the openai SDK raises it), never
  // as if complete; closing normally afterwards keeps the HTTP response itself well-formed.
  if (ending === 'broke') sink.send([streamErrorFor(call, failure)]);
  sink.close();
}

function streamErrorFor(call: MeteredCall, failure: unknown): Uint8Array {
  if (call.abortReason === 'shutdown') return call.op.streamError('shutting_down', 'The gateway is shutting down; the answer was cut short. What was delivered is billed.');
  const reason = failure instanceof Error ? ` (${failure.message})` : '';
  return call.op.streamError('upstream_stream_broken', `The provider's stream broke off before it finished${reason}.`);
}

/** The bytes the client was (or would have been) sent, kept for Idempotency-Key replays up to a cap. */
class ReplayCopy {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  private overflow = false;

  constructor(private readonly enabled: boolean) {}

  add(frames: Uint8Array[]): void {
    if (!this.enabled || this.overflow) return;
    for (const frame of frames) {
      this.size += frame.length;
      if (this.size > MAX_REPLAY_BYTES) {
        this.overflow = true;
        this.parts.length = 0;
        return;
      }
      this.parts.push(frame);
    }
  }

  /** null when nothing is kept: no Idempotency-Key, or the answer was too large to keep. */
  bytes(): Uint8Array | null {
    return this.enabled && !this.overflow ? Buffer.concat(this.parts) : null;
  }
}
