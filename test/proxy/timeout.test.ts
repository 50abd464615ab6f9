// UPSTREAM_TIMEOUT_MS bounds the wait for an answer (504, not billed), but not a stream that flows.
import { describe, expect, it } from 'vitest';
import { chunk, completion } from '../helpers/stub-openai.js';
import { accountView, expectNotBilled, expectOpenAIErrorShape, funded, postChat, useProxyEnv } from './support.js';

const env = useProxyEnv({ env: { UPSTREAM_TIMEOUT_MS: '300' } });

const messages = [{ role: 'user' as const, content: 'Hello?' }];

describe('upstream timeout', () => {
  it('answers 504 in OpenAI shape when the provider is silent, and bills nothing', async () => {
    const { key } = await funded(env.gw, 10_000);
    let release!: () => void;
    env.stub.enqueue({ kind: 'json', body: completion({ content: 'late', usage: null }), after: new Promise<void>((resolve) => (release = resolve)) });
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages });
    release();
    expect(response.status).toBe(504);
    const body = (await response.json()) as { error: { code: string } };
    expectOpenAIErrorShape(body);
    expect(body.error.code).toBe('upstream_timeout');
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('lets a stream run past the timeout while it flows', async () => {
    const { key } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'endless', chunk: chunk({ content: ' more' }), everyMs: 20 });
    const abort = new AbortController();
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 500 }, { signal: abort.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const started = Date.now();
    let chunks = 0;
    while (Date.now() - started < 900) {
      const { done } = await reader.read();
      expect(done).toBe(false); // still flowing three timeouts later
      chunks += 1;
    }
    abort.abort();
    expect(chunks).toBeGreaterThan(10);
  });
});
