// A client that leaves (SPEC 3.6, issue 7 items 1 and 5): the provider keeps the request and bills it, so
// the gateway keeps reading the upstream, bounded in time (DRAIN_AFTER_DISCONNECT_MS) and bytes, for the
// usage it will bill; without it, the delivered part is estimated (a reasoning model: its output cap).
// A request the provider never received is not billed at all.
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { chunk, completion, textChunks, usage } from '../helpers/stub-openai.js';
import { GPT_4O_MINI, accountView, funded, postChat, settleAll, settledUsage, useProxyEnv, usageRowsOfAccount } from './support.js';

const DRAIN_MS = 1_500;
const logLines: string[] = [];
const env = useProxyEnv({ env: { DRAIN_AFTER_DISCONNECT_MS: String(DRAIN_MS) }, onLogLine: (line) => logLines.push(line) });

const O4_MINI = loadPriceTable().chat('o4-mini')!;
const messages = [{ role: 'user' as const, content: 'Think hard, then answer briefly.' }];

/** Reads a stream until `marker` has arrived. */
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

describe('a stream whose client leaves', () => {
  it('after finish_reason but before the usage chunk: bills the usage the provider reports, reasoning included', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    let sendUsage!: () => void;
    const reported = usage(20, 5_040, { reasoning: 5_000 });
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['Forty', '-two.']), usage: reported, usageAfter: new Promise<void>((resolve) => (sendUsage = resolve)) });
    const abort = new AbortController();

    const response = await postChat(env.gw, key, { model: 'o4-mini', messages, stream: true }, { signal: abort.signal });
    expect(response.status).toBe(200);
    await readUntil(response, '"finish_reason":"stop"');
    abort.abort();
    await noticedClientGone(response.headers.get('x-request-id')!);
    sendUsage();

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    const expected = chargeFor({ inputTokens: 20, cachedInputTokens: 0, outputTokens: 5_040 }, O4_MINI);
    expect(expected).toBe(22_198); // ceil(20 x 1.1 + 5040 x 4.4)
    expect(row).toMatchObject({ usage_source: 'provider', status: 'client_aborted', input_tokens: 20, output_tokens: 5_040, reasoning_tokens: 5_000, cost: expected });
    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: false }); // read to its end
    expect((await accountView(env.gw, key)).held).toBe(0);
  });

  it('when the usage never comes within the drain bound: closes the upstream and bills a reasoning model its output cap', async () => {
    const { key } = await funded(env.gw, 10_000_000);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['Forty', '-two.']), usage: usage(20, 5_040, { reasoning: 5_000 }), usageAfter: new Promise<void>(() => {}) });
    const abort = new AbortController();
    const maxTokens = 8_000;

    const response = await postChat(env.gw, key, { model: 'o4-mini', messages, stream: true, max_completion_tokens: maxTokens }, { signal: abort.signal });
    await readUntil(response, '"finish_reason":"stop"');
    const leftAt = Date.now();
    abort.abort();

    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: true });
    expect(Date.now() - leftAt).toBeGreaterThanOrEqual(DRAIN_MS - 50); // read on until the bound, not closed at once
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    const promptTokens = estimatePromptTokens({ model: 'o4-mini', messages }, 'o200k_base');
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'client_aborted', input_tokens: promptTokens, output_tokens: maxTokens });
    expect(row.cost).toBe(chargeFor({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: maxTokens }, O4_MINI));
    expect((await accountView(env.gw, key)).held).toBe(0);
  });

  it('a provider that goes silent: the upstream is closed when the drain bound runs out, and the delivered part is billed', async () => {
    const { key } = await funded(env.gw, 100_000);
    // One chunk, then silence for a minute: only the gateway's own deadline can end the call.
    env.stub.enqueue({ kind: 'endless', chunk: chunk({ content: ' thinking' }), everyMs: 60_000 });
    const abort = new AbortController();
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 2000 }, { signal: abort.signal });
    await readUntil(response, ' thinking');
    abort.abort();

    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: true });
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ status: 'client_aborted', usage_source: 'estimated', output_tokens: 1 });
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: 1 }, GPT_4O_MINI));
    expect((await accountView(env.gw, key)).held).toBe(0);
  });

  it('a provider that keeps streaming: read for the drain bound, then closed; billed the prompt and everything generated', async () => {
    const start = 100_000;
    const { key } = await funded(env.gw, start);
    env.stub.enqueue({ kind: 'endless', chunk: chunk({ content: ' and so on' }), everyMs: 5 });
    const abort = new AbortController();
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 2000 }, { signal: abort.signal });
    await readUntil(response, ' and so on');
    expect((await accountView(env.gw, key)).held).toBeGreaterThan(0); // the request holds money while it runs
    abort.abort();

    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: true });
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'client_aborted', stream: true });
    expect(row.input_tokens).toBe(estimatePromptTokens({ model: 'gpt-4o-mini', messages }, 'o200k_base'));
    // What the stub sent after the client left is counted too: the provider bills it.
    const sentChunks = env.stub.requests[0]!.sent.toString('utf8').split(' and so on').length - 1;
    expect(row.output_tokens).toBeGreaterThan(1);
    expect(row.output_tokens).toBeLessThanOrEqual(sentChunks * 3);
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: row.output_tokens }, GPT_4O_MINI));
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - row.cost, held: 0 });
  });
});

describe('a non-stream request whose client leaves', () => {
  it('while the answer is pending: the answer is still read and billed by its usage', async () => {
    const start = 100_000;
    const { key, accountId } = await funded(env.gw, start);
    let answer!: () => void;
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(10, 5) }), after: new Promise<void>((resolve) => (answer = resolve)) });
    const abort = new AbortController();

    const pending = postChat(env.gw, key, { model: 'gpt-4o-mini', messages, max_tokens: 2000 }, { signal: abort.signal });
    await env.stub.waitForRequests(1);
    const noticed = logLines.filter((line) => line.includes('client gone')).length + 1;
    abort.abort();
    await expect(pending).rejects.toThrow();
    await until(() => logLines.filter((line) => line.includes('client gone')).length >= noticed);
    answer();

    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: false });
    const row = await settledUsage(env, { accountId });
    expect(row).toMatchObject({ usage_source: 'provider', status: 'client_aborted', stream: false, input_tokens: 10, output_tokens: 5 });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - row.cost, held: 0 });
  });

  it('when no answer comes within the drain bound: the upstream is closed and the prompt is billed', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(10, 5) }), after: new Promise<void>(() => {}) });
    const abort = new AbortController();
    const pending = postChat(env.gw, key, { model: 'gpt-4o-mini', messages, max_tokens: 2000 }, { signal: abort.signal });
    await env.stub.waitForRequests(1);
    abort.abort();
    await expect(pending).rejects.toThrow();

    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: true });
    const row = await settledUsage(env, { accountId });
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'client_aborted', output_tokens: 0 });
    expect(row.input_tokens).toBe(estimatePromptTokens({ model: 'gpt-4o-mini', messages }, 'o200k_base'));
    expect(row.cost).toBeGreaterThan(0);
    expect((await accountView(env.gw, key)).held).toBe(0);
  });
});

describe('a client gone before the provider was called', () => {
  it('voids the hold and bills nothing', async () => {
    const start = 10_000_000;
    const { key, accountId } = await funded(env.gw, start);
    // Counting a large prompt takes a while (in a worker), so the client can leave before the
    // upstream call; if the machine counted faster than the client left, try again.
    const large = [{ role: 'user' as const, content: 'word '.repeat(400_000) }];
    let attempts = 0;
    for (;;) {
      attempts++;
      const handled = chatRequestsLogged() + 1;
      const abort = new AbortController();
      const pending = postChat(env.gw, key, { model: 'gpt-4o-mini', messages: large, max_tokens: 10 }, { signal: abort.signal });
      setTimeout(() => abort.abort(), 30);
      await pending.catch(() => undefined);
      await until(() => chatRequestsLogged() >= handled); // the gateway finished with it
      if (env.stub.requests.length === 0) break;
      if (attempts === 5) throw new Error('the gateway always reached the provider before the client left');
      env.stub.reset();
    }
    await settleAll(env.gw);
    const billedAfterProviderCalls = (await usageRowsOfAccount(env.sql, accountId)).length;
    expect(billedAfterProviderCalls).toBe(attempts - 1); // only attempts that reached the provider are billed
    expect((await accountView(env.gw, key)).held).toBe(0);
  });
});

/** The gateway logs (at debug) when it notices a client has left. */
async function noticedClientGone(requestId: string): Promise<void> {
  await until(() => logLines.some((line) => line.includes('client gone') && line.includes(requestId)));
}

/** Completed chat requests, as the gateway's request log counts them. */
function chatRequestsLogged(): number {
  return logLines.filter((line) => line.includes('"msg":"request"') && line.includes('/v1/chat/completions')).length;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the gateway');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
