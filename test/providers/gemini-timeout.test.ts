// Timeouts and aborts on the Gemini path follow the shared rules (README, "Timeout"): UPSTREAM_TIMEOUT_MS
// bounds a whole non-stream answer and a stream's first event (504, unbilled, upstream call closed);
// a stream that flows may run longer. (Aborts: gemini-adapter.test.ts.)
import { describe, expect, it } from 'vitest';
import type { ErrorBody } from '../../src/http/errors.js';
import { textEvents, usageMetadata } from '../helpers/stub-gemini.js';
import { accountView, expectNotBilled, funded, postChat, settledUsage } from '../proxy/support.js';
import { useGeminiEnv } from './support.js';

const TIMEOUT_MS = 400;
const env = useGeminiEnv({ env: { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) } });
const MODEL = 'gemini-2.5-flash';
const messages = [{ role: 'user', content: 'Hello?' }];

describe('Gemini upstream timeout', () => {
  it.each([
    ['a silent provider (non-stream)', false, { kind: 'silent' } as const],
    ['a silent provider (stream)', true, { kind: 'silent' } as const],
    ['a stream whose first event is late', true, { kind: 'stream', events: textEvents(['late'], usageMetadata(3, 1)), firstAfterMs: 5_000 } as const],
  ])('%s: 504 upstream_timeout, the upstream call closed, nothing billed', async (_name, stream, script) => {
    const { key } = await funded(env.gw, 100_000);
    env.gemini.enqueue(script);
    const response = await postChat(env.gw, key, { model: MODEL, messages, stream, max_tokens: 100 });
    expect(response.status).toBe(504);
    const body = (await response.json()) as ErrorBody;
    expect(body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_timeout', message: `Gemini did not answer within ${TIMEOUT_MS} ms.` });
    expect(await env.gemini.requests[0]!.closed).toEqual({ byPeer: true });
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 100_000, held: 0 });
  });

  it('a stream that flows may run past the timeout', async () => {
    const { key } = await funded(env.gw, 100_000);
    const pieces = ['One', ' two', ' three', ' four', ' five.'];
    env.gemini.enqueue({ kind: 'stream', events: textEvents(pieces, usageMetadata(5, 5)), everyMs: TIMEOUT_MS / 2 });
    const started = Date.now();
    const response = await postChat(env.gw, key, { model: MODEL, messages, stream: true, max_tokens: 100 });
    const text = await response.text();
    expect(Date.now() - started).toBeGreaterThan(TIMEOUT_MS);
    expect(text).toContain('"content":" five."');
    expect(text).toContain('data: [DONE]');
    expect(await settledUsage(env, response.headers.get('x-request-id')!)).toMatchObject({ status: 'ok', input_tokens: 5, output_tokens: 5 });
  });
});
