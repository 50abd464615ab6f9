// A client that leaves a Gemini Responses stream mid-way is billed as for every stream (SPEC 3.6): the
// gateway keeps reading Gemini's stream for the usage its last event reports, through the translated
// terminal event, and bills that usage once, status client_aborted.
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { textEvents, usageMetadata } from '../helpers/stub-gemini.js';
import { accountView, funded, settledUsage } from '../proxy/support.js';
import { GEMINI_FLASH, useGeminiEnv } from './support.js';

const logLines: string[] = [];
const env = useGeminiEnv({ onLogLine: (line) => logLines.push(line) });

async function readUntil(response: Response, marker: string): Promise<void> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let received = '';
  while (!received.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before '${marker}'`);
    received += decoder.decode(value);
  }
}

async function noticedClientGone(requestId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!logLines.some((line) => line.includes('client gone') && line.includes(requestId))) {
    if (Date.now() > deadline) throw new Error('the gateway did not notice the client leaving');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a Gemini Responses stream whose client leaves', () => {
  it('reads Gemini on to its end and bills the usage of its last event, status client_aborted', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const events = textEvents(['One', ' two', ' three', ' four.'], usageMetadata(40, 400, { thoughts: 100 }));
    let finish!: () => void;
    env.gemini.enqueue({ kind: 'stream', events, pauseBefore: { index: events.length - 1, until: new Promise<void>((resolve) => (finish = resolve)) } });
    const abort = new AbortController();

    const response = await fetch(`${env.gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.5-flash', input: 'Count.', stream: true }),
      signal: abort.signal,
    });
    await readUntil(response, 'response.output_text.delta');
    abort.abort();
    const requestId = response.headers.get('x-request-id')!;
    await noticedClientGone(requestId);
    finish();

    const row = await settledUsage(env, requestId);
    const cost = chargeFor({ inputTokens: 40, cachedInputTokens: 0, outputTokens: 500 }, GEMINI_FLASH);
    expect(row).toMatchObject({ usage_source: 'provider', status: 'client_aborted', input_tokens: 40, output_tokens: 500, reasoning_tokens: 100, cost });
    expect(await env.gemini.requests[0]!.closed).toEqual({ byPeer: false }); // read to its end
    expect((await accountView(env.gw, key)).held).toBe(0);
  });
});
