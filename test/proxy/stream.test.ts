// Streamed chat completions (SPEC 3.5, 3.6): the gateway always asks OpenAI for usage, bills from it,
// and shows the usage chunk only to clients that asked for it; otherwise the bytes pass through untouched.
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { textChunks, toolCallChunks, usage } from '../helpers/stub-openai.js';
import { GPT_4O_MINI, accountView, funded, postChat, settledUsage, useProxyEnv, usageLedgerRows } from './support.js';


const env = useProxyEnv();

const messages = [{ role: 'user' as const, content: 'Count to five.' }];
const pieces = ['One', ', two', ', three', ', four', ', five.'];

async function collect(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>): Promise<OpenAI.Chat.ChatCompletionChunk[]> {
  const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
  for await (const part of stream) chunks.push(part);
  return chunks;
}

const contentOf = (chunks: OpenAI.Chat.ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('streams', () => {
  it('without include_usage: asks upstream for usage, bills it, and hides the usage chunk from the client', async () => {
    const start = 10_000;
    const { client, key } = await funded(env.gw, start);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(pieces), usage: usage(14, 9) });

    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true }).withResponse();
    const chunks = await collect(stream);

    expect(contentOf(chunks)).toBe('One, two, three, four, five.');
    expect(chunks.filter((c) => c.usage != null)).toEqual([]);
    expect(chunks.filter((c) => c.choices.length === 0)).toEqual([]);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(env.stub.requests).toHaveLength(1);
    expect(env.stub.requests[0]!.body).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } });

    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^req_/);
    const row = await settledUsage(env, requestId);
    const expected = chargeFor({ inputTokens: 14, cachedInputTokens: 0, outputTokens: 9 }, GPT_4O_MINI);
    expect(expected).toBe(8); // ceil((14 * 150000 + 9 * 600000) / 1e6) = ceil(7.5)
    expect(row).toMatchObject({ input_tokens: 14, output_tokens: 9, cost: expected, usage_source: 'provider', status: 'ok', stream: true });
    const [entry] = await usageLedgerRows(env.sql, requestId);
    expect(entry!.amount).toBe(-expected);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - expected, held: 0 });
  });

  it('with include_usage: exactly one usage chunk reaches the client', async () => {
    const { client } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(pieces), usage: usage(14, 9, { cached: 4 }) });

    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks = await collect(stream);

    const withUsage = chunks.filter((c) => c.usage != null);
    expect(withUsage).toHaveLength(1);
    expect(withUsage[0]!.choices).toEqual([]);
    // The provider's usage, plus what the gateway charged for it (billing tokens): streams have no cost header.
    const cost = chargeFor({ inputTokens: 14, cachedInputTokens: 4, outputTokens: 9 }, GPT_4O_MINI);
    expect(withUsage[0]!.usage).toEqual({ ...usage(14, 9, { cached: 4 }), cost });
    expect(contentOf(chunks)).toBe('One, two, three, four, five.');

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 14, cached_input_tokens: 4, cost });
  });

  it('with include_usage: the client receives exactly the bytes the provider sent, but for usage.cost on the usage chunk', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['Ünïcödé ', '✓ bytes', ' 🚀 intact']), usage: usage(11, 6), everyMs: 2 });

    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const received = Buffer.from(await response.arrayBuffer()).toString('utf8').split(/(?<=\n\n)/);

    const sent = env.stub.requests[0]!.sent.toString('utf8').split(/(?<=\n\n)/);
    const usageAt = sent.findIndex((frame) => frame.includes('"choices":[]'));
    expect(usageAt).toBeGreaterThan(0);
    expect(received).toHaveLength(sent.length);
    expect(received.filter((_, i) => i !== usageAt)).toEqual(sent.filter((_, i) => i !== usageAt));
    const chunkOf = (frame: string) => JSON.parse(frame.replace(/^data: /, '')) as { usage: Record<string, unknown> };
    const cost = chargeFor({ inputTokens: 11, cachedInputTokens: 0, outputTokens: 6 }, GPT_4O_MINI);
    expect(chunkOf(received[usageAt]!)).toEqual({ ...chunkOf(sent[usageAt]!), usage: { ...chunkOf(sent[usageAt]!).usage, cost } });
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row.cost).toBe(cost);
  });

  it('without include_usage: the raw stream is the provider bytes minus the usage chunk', async () => {
    const { key } = await funded(env.gw, 10_000);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(pieces), usage: usage(14, 9) });
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true });
    const received = await response.text();

    const sentFrames = env.stub.requests[0]!.sent.toString('utf8').split(/(?<=\n\n)/);
    const usageFrames = sentFrames.filter((frame) => frame.includes('"choices":[]'));
    expect(usageFrames).toHaveLength(1);
    expect(received).toBe(sentFrames.filter((frame) => !usageFrames.includes(frame)).join(''));
    expect(received.endsWith('data: [DONE]\n\n')).toBe(true);
    await settledUsage(env, response.headers.get('x-request-id')!);
  });

  it('passes streamed tool-call deltas through and bills from the usage chunk', async () => {
    const { client } = await funded(env.gw, 10_000);
    const call = { id: 'call_xyz789', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' };
    const fragments = ['{"ci', 'ty":"Pa', 'ris","unit', '":"celsius"}'];
    env.stub.enqueue({ kind: 'stream', chunks: toolCallChunks(call, fragments), usage: usage(90, 21) });
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, stream: true }).withResponse();
    const chunks = await collect(stream);

    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: 'call_xyz789', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas.map((d) => d.function?.arguments ?? '').join('')).toBe(call.arguments);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks.filter((c) => c.usage != null)).toEqual([]);
    expect(env.stub.requests[0]!.body.tools).toEqual(tools);

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ input_tokens: 90, output_tokens: 21, usage_source: 'provider', cost: chargeFor({ inputTokens: 90, cachedInputTokens: 0, outputTokens: 21 }, GPT_4O_MINI) });
  });

  it('estimates a stream whose provider sends no usage chunk, and bills a non-zero amount', async () => {
    const start = 10_000;
    const { client, key } = await funded(env.gw, start);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(pieces), usage: null });

    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    const chunks = await collect(stream);
    expect(contentOf(chunks)).toBe('One, two, three, four, five.');
    expect(chunks.filter((c) => c.usage != null)).toEqual([]);

    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row.usage_source).toBe('estimated');
    expect(row.status).toBe('ok');
    expect(row.input_tokens).toBe(estimatePromptTokens({ model: 'gpt-4o-mini', messages }, 'o200k_base'));
    expect(row.output_tokens).toBeGreaterThan(0);
    expect(row.cost).toBeGreaterThan(0);
    expect(row.cost).toBe(chargeFor({ inputTokens: row.input_tokens, cachedInputTokens: 0, outputTokens: row.output_tokens }, GPT_4O_MINI));
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - row.cost, held: 0 });
  });
});
