// The Gemini adapter's side of the ChatProvider contract, against the stub: the caller's signal ends
// the upstream call at once, closing the returned stream does too, and otherwise the stream yields
// until Gemini ends it — whoever is reading (the metering core keeps reading after a client leaves).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { GeminiProvider } from '../../src/providers/gemini/index.js';
import type { ChatRequest, ChatResponse } from '../../src/providers/types.js';
import { UpstreamUnavailableError } from '../../src/providers/types.js';
import { startStubGemini, textEvents, usageMetadata, type StubGemini } from '../helpers/stub-gemini.js';

const model = loadPriceTable().chat('gemini-2.5-flash')!;
let stub: StubGemini;
let provider: GeminiProvider;

beforeAll(async () => {
  stub = await startStubGemini();
  provider = new GeminiProvider({ baseUrl: stub.url, apiKey: stub.apiKey, timeoutMs: 5_000 });
});
afterAll(() => stub.stop());
beforeEach(() => stub.reset());

function request(signal: AbortSignal, stream = true): ChatRequest {
  return {
    model,
    body: { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Count.' }], stream, stream_options: { include_usage: true } },
    stream,
    signal,
    header: () => undefined,
  };
}

function asStream(response: ChatResponse): AsyncIterator<Uint8Array, unknown, undefined> {
  if (response.kind !== 'stream') throw new Error(`expected a stream, got ${response.status}`);
  return response.chunks;
}

const slowCount = () => ({ kind: 'stream' as const, events: textEvents(Array.from({ length: 40 }, (_, i) => ` ${i}`), usageMetadata(4, 40)), everyMs: 50 });

describe('GeminiProvider and its caller', () => {
  it('yields every event until Gemini ends the stream, then the usage chunk and [DONE]', async () => {
    stub.enqueue({ kind: 'stream', events: textEvents(['a', 'b', 'c'], usageMetadata(4, 3)), everyMs: 5 });
    const chunks = asStream(await provider.chat(request(new AbortController().signal)));
    let text = '';
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) text += Buffer.from(next.value).toString('utf8');
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events.at(-2)!.slice('data: '.length))).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 3 } });
    expect(events.filter((e) => e.includes('"content":"'))).toHaveLength(4); // the role chunk, then a, b, c
  });

  it('the caller\'s signal ends the upstream call at once, even with a read pending', async () => {
    stub.enqueue(slowCount());
    const abort = new AbortController();
    const chunks = asStream(await provider.chat(request(abort.signal)));
    await chunks.next();
    const drain = async (): Promise<unknown> => {
      try {
        while (!(await chunks.next()).done);
        return 'done';
      } catch (error) {
        return error;
      }
    };
    const reading = drain(); // a read is pending while the signal fires
    abort.abort();
    expect(await stub.requests[0]!.closed).toEqual({ byPeer: true });
    expect(await reading).toMatchObject({ name: 'AbortError' }); // the reader learns it was cut, not finished
  });

  it('closing the stream (return) ends the upstream call at once', async () => {
    stub.enqueue(slowCount());
    const chunks = asStream(await provider.chat(request(new AbortController().signal)));
    await chunks.next();
    await chunks.return?.(undefined);
    expect(await stub.requests[0]!.closed).toEqual({ byPeer: true });
    expect(await chunks.next()).toEqual({ done: true, value: undefined });
  });

  it('a caller already gone gets its own abort back, and Google is not called', async () => {
    const abort = new AbortController();
    abort.abort();
    const error = await provider.chat(request(abort.signal, false)).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(UpstreamUnavailableError);
    expect(stub.requests).toHaveLength(0);
  });
});
