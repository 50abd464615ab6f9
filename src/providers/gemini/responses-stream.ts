// The Responses API's events as SSE frames (`event: <type>` then `data: {...}`, as OpenAI writes them;
// no [DONE]). A stream Gemini never finished gets no terminal event but an `error` event saying so,
// and a Google error inside the stream becomes the Responses `error` event, so the core bills either as
// broken and every client sees why.
import type { GenerateContentResponse } from '@google/genai';
import type { MappedError } from './errors.js';
import type { ResponsesEvent, ResponsesTranslator } from './responses-output.js';
import type { FrameTranslator } from './stream.js';

const encoder = new TextEncoder();
const frame = (event: ResponsesEvent) => encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);

export class ResponsesFrames implements FrameTranslator {
  constructor(private readonly translator: ResponsesTranslator) {}

  start(): Uint8Array[] {
    return this.translator.start().map(frame);
  }

  push(response: GenerateContentResponse): Uint8Array[] {
    return this.translator.push(response).map(frame);
  }

  end(): Uint8Array[] {
    if (this.translator.complete) return this.translator.finish().map(frame);
    return [this.errorFrame({ type: 'upstream_error', code: 'upstream_stream_incomplete', message: 'Gemini ended the stream before the answer was finished.', param: null })];
  }

  error(error: MappedError): Uint8Array[] {
    return [this.errorFrame(error.body.error)];
  }

  /** OpenAI documents the error event's fields flat and sends them nested under `error`: both are given. */
  private errorFrame(error: { type: string; code: string | null; message: string; param: string | null }): Uint8Array {
    const { code, message, param } = error;
    return frame({ type: 'error', sequence_number: this.translator.nextSequenceNumber(), code, message, param, error });
  }
}
