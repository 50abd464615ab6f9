// A client that leaves a Responses stream mid-way is billed as for chat (SPEC 3.6): the gateway keeps
// reading the upstream, bounded by DRAIN_AFTER_DISCONNECT_MS, for the usage of the terminal event; when
// it does not come in time the upstream is closed and the delivered part is estimated (a reasoning
// model: its output cap, since its thinking never appears in the stream).
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { messageItem, responseEvents, responseObject, responsesUsage, sseFrames, webSearchCallItem } from '../helpers/stub-openai-responses.js';
import { GPT_4O_MINI, accountView, funded, settledUsage, useProxyEnv } from './support.js';

const DRAIN_MS = 1_500;
const logLines: string[] = [];
const env = useProxyEnv({ env: { DRAIN_AFTER_DISCONNECT_MS: String(DRAIN_MS) }, onLogLine: (line) => logLines.push(line) });

const O4_MINI = loadPriceTable().chat('o4-mini')!;

function postResponses(key: string, body: unknown, signal: AbortSignal): Promise<Response> {
  return fetch(`${env.gw.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
}

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

describe('a Responses stream whose client leaves', () => {
  it('before response.completed: reads on and bills the reported usage and tool calls, status client_aborted', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const final = responseObject({ id: 'resp_gone1', output: [webSearchCallItem('q'), messageItem('Forty-two, after a long search.')], usage: responsesUsage(200, 5_040, { reasoning: 5_000 }) });
    const events = responseEvents(final, 4);
    let finish!: () => void;
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events), pauseBefore: { index: events.length - 1, until: new Promise<void>((resolve) => (finish = resolve)) } });
    const abort = new AbortController();

    const response = await postResponses(key, { model: 'o4-mini', input: 'Think, then answer.', stream: true, tools: [{ type: 'web_search' }] }, abort.signal);
    await readUntil(response, 'response.output_text.done');
    abort.abort();
    const requestId = response.headers.get('x-request-id')!;
    await noticedClientGone(requestId);
    finish();

    const row = await settledUsage(env, requestId);
    const expected = chargeFor({ inputTokens: 200, cachedInputTokens: 0, outputTokens: 5_040 }, O4_MINI) + 10_000;
    expect(row).toMatchObject({ usage_source: 'provider', status: 'client_aborted', input_tokens: 200, output_tokens: 5_040, reasoning_tokens: 5_000, cost: expected });
    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: false }); // read to its end
    expect((await accountView(env.gw, key)).held).toBe(0);
    // The response was recorded, and finished with its usage, although its client left.
    const [stored] = await env.sql`select input_tokens, output_tokens from stored_responses where id = 'resp_gone1'`;
    expect(stored).toMatchObject({ input_tokens: 200, output_tokens: 5_040 });
  });

  it('when the terminal event never comes within the drain bound: closes the upstream and bills a reasoning model its output cap', async () => {
    const { key } = await funded(env.gw, 10_000_000);
    const events = responseEvents(responseObject({ output: [messageItem('Forty-two.')], usage: responsesUsage(20, 5_040) }), 2);
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events), pauseBefore: { index: events.length - 1, until: new Promise<void>(() => {}) } });
    const abort = new AbortController();
    const response = await postResponses(key, { model: 'o4-mini', input: 'Think.', stream: true, max_output_tokens: 8_000 }, abort.signal);
    await readUntil(response, 'response.output_item.done');
    const leftAt = Date.now();
    abort.abort();

    expect(await env.stub.requests[0]!.closed).toEqual({ byPeer: true });
    expect(Date.now() - leftAt).toBeGreaterThanOrEqual(DRAIN_MS - 50);
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'client_aborted', output_tokens: 8_000 });
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: 8_000 }, O4_MINI));
    expect((await accountView(env.gw, key)).held).toBe(0);
  });

  it('a non-reasoning model without the terminal event: billed the prompt estimate and the text it generated', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const text = 'The quick brown fox jumps over the lazy dog, again and again.';
    const events = responseEvents(responseObject({ output: [messageItem(text)], usage: responsesUsage(20, 30) }), 3);
    env.stub.enqueue({ kind: 'sse', frames: sseFrames(events), pauseBefore: { index: events.length - 1, until: new Promise<void>(() => {}) } });
    const abort = new AbortController();
    const response = await postResponses(key, { model: 'gpt-4o-mini', input: 'Say it.', stream: true }, abort.signal);
    await readUntil(response, 'response.output_item.done');
    abort.abort();

    const row = await settledUsage(env, response.headers.get('x-request-id')!, 10_000);
    expect(row).toMatchObject({ usage_source: 'estimated', status: 'client_aborted' });
    expect(row.output_tokens).toBeGreaterThanOrEqual(10);
    expect(row.output_tokens).toBeLessThanOrEqual(20);
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: row.output_tokens }, GPT_4O_MINI));
  });
});
