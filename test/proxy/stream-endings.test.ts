// How a stream ends decides what is billed (SPEC 3.6, 3.8): an error event after output bills the
// output it cost; an error event alone bills nothing; a stream cut off before [DONE] is an error, billed
// for what was generated, and never stored for Idempotency-Key replays.
import { describe, expect, it } from 'vitest';
import { textChunks } from '../helpers/stub-openai.js';
import { accountView, funded, postChat, settledUsage, useProxyEnv } from './support.js';


const env = useProxyEnv();

const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];
const providerError = { error: { message: 'The server is overloaded.', type: 'server_error', code: null, param: null } };

async function streamThrough(key: string, headers: Record<string, string> = {}): Promise<{ requestId: string; text: string }> {
  const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 200 }, { headers });
  expect(response.status).toBe(200);
  return { requestId: response.headers.get('x-request-id')!, text: await response.text() };
}

describe('stream endings', () => {
  it('an error event after output bills the output as an estimate, status error', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'stream', chunks: [...textChunks(['Once upon', ' a time there was']), providerError], usage: null });
    const { requestId, text } = await streamThrough(key);
    expect(text).toContain('overloaded');
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ status: 'error', usage_source: 'estimated' });
    expect(row.output_tokens).toBeGreaterThan(0);
    expect(row.cost).toBeGreaterThan(0);
    expect(await accountView(env.gw, key)).toMatchObject({ held: 0, balance: 10_000 - row.cost });
  });

  it('an error event with no output bills nothing', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'stream', chunks: [providerError], usage: null });
    const { requestId } = await streamThrough(key);
    const row = await settledUsage(env, requestId);
    expect(row).toMatchObject({ status: 'error', cost: 0 });
    expect(await accountView(env.gw, key)).toMatchObject({ held: 0, balance: 10_000 });
  });

  it('a stream that closes before [DONE] is an error and is not kept for replays', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['Once upon', ' a time']), usage: null, noDone: true });
    const first = await streamThrough(key, { 'idempotency-key': 'story-1' });
    const row = await settledUsage(env, first.requestId);
    expect(row).toMatchObject({ status: 'error', usage_source: 'estimated' });

    // Not stored: the same key runs again (and reaches the provider a second time).
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['Once upon', ' a time', ' the end.']), usage: null });
    const second = await streamThrough(key, { 'idempotency-key': 'story-1' });
    expect(second.text).toContain('the end.');
    expect(env.stub.requests).toHaveLength(2);
  });
});
