// The Vercel AI SDK's default OpenAI provider on a Gemini model (issue 10): `openai('gemini-2.5-flash')`
// calls the gateway's Responses API, which translates to Gemini; generateText and streamText work,
// with tools, and each call is billed once, to the token, from Google's usage. Gemini responses are
// not stored, so a multi-turn conversation sets the SDK's `store: false` (otherwise the SDK refers to
// earlier answers by item_reference, which is a clear 400 here).
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chargeFor } from '../../src/billing/pricing.js';
import { geminiResponse, textEvents, usageMetadata } from '../helpers/stub-gemini.js';
import { accountView, funded, settleAll, usageRowsOfAccount } from '../proxy/support.js';
import { GEMINI_FLASH, useGeminiEnv } from './support.js';

const env = useGeminiEnv();

function provider(apiKey: string) {
  return createOpenAI({ baseURL: `${env.gw.url}/v1`, apiKey });
}

const cost = (input: number, output: number) => chargeFor({ inputTokens: input, cachedInputTokens: 0, outputTokens: output }, GEMINI_FLASH);

async function billed(accountId: string, count: number) {
  await settleAll(env.gw);
  const rows = await usageRowsOfAccount(env.sql, accountId);
  expect(rows).toHaveLength(count);
  return rows;
}

describe("openai('gemini-2.5-flash') through the Responses route", () => {
  it('generateText', async () => {
    const start = 100_000;
    const { key, accountId } = await funded(env.gw, start);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'Hello from Gemini.', usage: usageMetadata(2_000, 40, { thoughts: 10 }) }) });

    const result = await generateText({ model: provider(key)('gemini-2.5-flash'), system: 'Be friendly.', prompt: 'Say hello.', maxOutputTokens: 100 });

    expect(result.text).toBe('Hello from Gemini.');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: 2_000, outputTokens: 50 });
    expect(env.gemini.requests[0]!.body).toEqual({
      systemInstruction: { parts: [{ text: 'Be friendly.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }],
      generationConfig: { maxOutputTokens: 100 },
    });
    const [row] = await billed(accountId, 1);
    expect(row).toMatchObject({ provider: 'gemini', input_tokens: 2_000, output_tokens: 50, reasoning_tokens: 10, cost: cost(2_000, 50), usage_source: 'provider', status: 'ok', stream: false });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - row!.cost, held: 0 });
  });

  it('streamText: the same usage costs the same as generateText', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'stream', events: textEvents(['Hello', ' from', ' Gemini.'], usageMetadata(2_000, 40, { thoughts: 10 })) });

    const result = streamText({ model: provider(key)('gemini-2.5-flash'), prompt: 'Say hello.' });
    let text = '';
    for await (const delta of result.textStream) text += delta;

    expect(text).toBe('Hello from Gemini.');
    expect(await result.finishReason).toBe('stop');
    expect(await result.usage).toMatchObject({ inputTokens: 2_000, outputTokens: 50 });
    expect(env.gemini.requests[0]).toMatchObject({ method: 'streamGenerateContent' });
    const [row] = await billed(accountId, 1);
    expect(row).toMatchObject({ cost: cost(2_000, 50), status: 'ok', stream: true });
  });

  it('a tool loop: the call is executed by the SDK and its result sent back as function_call_output', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.gemini.enqueue(
      { kind: 'stream', events: [geminiResponse({ calls: [{ name: 'weather', args: { city: 'Oslo' } }], usage: usageMetadata(30, 8) })] },
      { kind: 'stream', events: textEvents(['Snow', ' in Oslo.'], usageMetadata(50, 4)) },
    );
    const result = streamText({
      model: provider(key)('gemini-2.5-flash'),
      prompt: 'Weather in Oslo?',
      tools: { weather: tool({ description: 'Weather in a city', inputSchema: z.object({ city: z.string() }), execute: async ({ city }) => ({ city, sky: 'snow' }) }) },
      stopWhen: stepCountIs(2),
    });
    let text = '';
    for await (const delta of result.textStream) text += delta;

    expect(text).toBe('Snow in Oslo.');
    expect(env.gemini.requests[1]!.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Oslo?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'weather', args: { city: 'Oslo' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'weather', response: { city: 'Oslo', sky: 'snow' } } }] },
    ]);
    const rows = await billed(accountId, 2);
    expect(rows.map((r) => r.cost).sort((a, b) => a - b)).toEqual([cost(30, 8), cost(50, 4)].sort((a, b) => a - b));
  });

  it('multi-turn with store: false sends the whole conversation; with the SDK default it is a clear 400 (item_reference)', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    env.gemini.enqueue(
      { kind: 'json', body: geminiResponse({ text: 'Paris.', usage: usageMetadata(12, 2) }) },
      { kind: 'json', body: geminiResponse({ text: 'About 2.1 million.', usage: usageMetadata(30, 6) }) },
    );
    const openai = provider(key);
    const stateless = { openai: { store: false } };
    const first = await generateText({ model: openai('gemini-2.5-flash'), prompt: 'Capital of France?', providerOptions: stateless });
    const messages = [{ role: 'user' as const, content: 'Capital of France?' }, ...first.response.messages, { role: 'user' as const, content: 'Population?' }];
    const second = await generateText({ model: openai('gemini-2.5-flash'), messages, providerOptions: stateless });

    expect(second.text).toBe('About 2.1 million.');
    expect(env.gemini.requests[1]!.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Capital of France?' }] },
      { role: 'model', parts: [{ text: 'Paris.' }] },
      { role: 'user', parts: [{ text: 'Population?' }] },
    ]);

    const refused = await generateText({ model: openai('gemini-2.5-flash'), messages, maxRetries: 0 }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ statusCode: 400, message: expect.stringContaining('item_reference') });
    expect(env.gemini.requests).toHaveLength(2);
    expect((await billed(accountId, 2)).map((r) => r.cost)).toEqual([cost(12, 2), cost(30, 6)]);
  });
});
