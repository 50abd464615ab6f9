// The hold bounds the spend (issue 7, item 2) and counting never blocks the server (item 7), through
// HTTP: files, images and huge texts are held for what the provider can bill, and /healthz keeps
// answering while a huge prompt is counted.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { estimatePromptTokens, measurePrompt } from '../../src/metering/tokenizer.js';
import { imageDataUrl } from '../helpers/images.js';
import { completion, openAIError, usage } from '../helpers/stub-openai.js';
import { GPT_4O_MINI, accountView, expectOpenAIErrorShape, funded, postChat, settleAll, useProxyEnv } from './support.js';

const env = useProxyEnv();
const prices = loadPriceTable();

/** A PDF-sized file part: 300 KB of bytes behind a PDF header (the gateway sizes it, never parses it). */
const pdfPart = {
  type: 'file',
  file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(300_000, 0x41)]).toString('base64')}` },
};
const pdfRequest = { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarize this report.' }, pdfPart] }] };
/** What OpenAI bills for such a PDF (its text and a 25,501-token image per page on gpt-4o-mini), within the context window. */
const PDF_PROMPT_TOKENS = 100_000;

describe('a PDF part is held for what it can cost', () => {
  it('balance 500: refused with 402 before the provider, where it used to end far below zero', async () => {
    const { key } = await funded(env.gw, 500);
    env.stub.setDefault(() => ({ kind: 'json', body: completion({ usage: usage(PDF_PROMPT_TOKENS, 100) }) }));
    const response = await postChat(env.gw, key, pdfRequest);
    expect(response.status).toBe(402);
    expectOpenAIErrorShape(await response.json());
    expect(env.stub.requests).toHaveLength(0);
    await settleAll(env.gw);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 500, held: 0 });
  });

  it('balance 500, 8 in parallel: the balance never ends below zero', async () => {
    const { key } = await funded(env.gw, 500);
    env.stub.setDefault(() => ({ kind: 'json', body: completion({ usage: usage(PDF_PROMPT_TOKENS, 100) }) }));
    const statuses = await Promise.all(Array.from({ length: 8 }, () => postChat(env.gw, key, pdfRequest).then((r) => r.status)));
    expect(statuses).toEqual(Array(8).fill(402));
    await settleAll(env.gw);
    expect((await accountView(env.gw, key)).balance).toBe(500);
  });

  it('a balance that pays the hold: 8 in parallel, the provider bills what it bills, the balance stays >= 0', async () => {
    // The hold of one request: the prompt capped at gpt-4o-mini's context window, plus 100 output tokens.
    const hold = chargeFor({ inputTokens: 128_000, cachedInputTokens: 0, outputTokens: 100 }, GPT_4O_MINI);
    const start = hold + 5_000; // pays one hold, not two
    const { key } = await funded(env.gw, start);
    env.stub.setDefault(() => ({ kind: 'json', body: completion({ usage: usage(PDF_PROMPT_TOKENS, 100) }) }));
    const statuses = await Promise.all(Array.from({ length: 8 }, () => postChat(env.gw, key, pdfRequest).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 402)).toHaveLength(7);
    await settleAll(env.gw);
    const view = await accountView(env.gw, key);
    expect(view.balance).toBe(start - chargeFor({ inputTokens: PDF_PROMPT_TOKENS, cachedInputTokens: 0, outputTokens: 100 }, GPT_4O_MINI));
    expect(view.balance).toBeGreaterThanOrEqual(0);
  });
});

describe('a short prompt far from the balance is held by its bytes, and counted with tiktoken near it', () => {
  const messages = [{ role: 'user', content: 'Say hello to the whole wide world, politely.' }];
  const request = { model: 'gpt-4o-mini', max_tokens: 50, messages };
  const exact = chargeFor({ inputTokens: estimatePromptTokens(request, GPT_4O_MINI), cachedInputTokens: 0, outputTokens: 50 }, GPT_4O_MINI);
  const bound = chargeFor({ inputTokens: measurePrompt(request, GPT_4O_MINI).boundTokens, cachedInputTokens: 0, outputTokens: 50 }, GPT_4O_MINI);

  /** Runs one request and returns the account's hold while the provider has it. */
  async function heldDuring(key: string): Promise<number> {
    let release!: () => void;
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(10, 1) }), after: new Promise<void>((resolve) => (release = resolve)) });
    const before = env.stub.requests.length;
    const pending = postChat(env.gw, key, request);
    await env.stub.waitForRequests(before + 1);
    const { held } = await accountView(env.gw, key);
    release();
    expect((await pending).status).toBe(200);
    return held;
  }

  it('a balance it does not know yet: counted; once known to be far: held by the UTF-8 bytes (an upper bound)', async () => {
    expect(bound).toBeGreaterThan(exact);
    const { key } = await funded(env.gw, 10_000_000);
    expect(await heldDuring(key)).toBe(exact);
    expect(await heldDuring(key)).toBe(bound);
  });

  it('a balance that moved to exactly the counted worst case: the bound is re-planned by the count, held in full and not clamped', async () => {
    const { key, accountId } = await funded(env.gw, 10_000_000);
    await heldDuring(key); // this instance now knows the balance as far
    await settleAll(env.gw);
    const { available } = await accountView(env.gw, key);
    // Another request (or instance) holds all but the counted worst case.
    await env.gw.gateway.deps.holds.reserve({ accountId, holdId: `req_other_${Date.now()}`, amountTokens: available - exact, minimumTokens: available - exact, ttlSeconds: 60 });
    const before = env.stub.requests.length;
    expect(await heldDuring(key)).toBe(available);
    expect(env.stub.requests[before]!.body.max_tokens).toBe(50);
  });

  it('a balance one token short of the counted minimum: 402, nothing reaches the provider', async () => {
    const minimum = chargeFor({ inputTokens: estimatePromptTokens(request, GPT_4O_MINI), cachedInputTokens: 0, outputTokens: 1 }, GPT_4O_MINI);
    const { key } = await funded(env.gw, minimum - 1);
    const response = await postChat(env.gw, key, request);
    expect(response.status).toBe(402);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(`needs up to ${minimum} tokens`);
    expect(env.stub.requests).toHaveLength(0);
    expect(await accountView(env.gw, key)).toMatchObject({ held: 0, balance: minimum - 1 });
  });
});

describe('image parts are held by their model\'s rule and pixel size', () => {
  const image = (url: string, detail?: 'low' | 'high') => ({ type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } });
  it.each([
    { model: 'gpt-4o', part: image(imageDataUrl('png', 1024, 1024)), tokens: 765 },
    { model: 'gpt-4o', part: image(imageDataUrl('jpeg', 2048, 4096), 'high'), tokens: 1105 },
    { model: 'gpt-4o', part: image(imageDataUrl('png', 4096, 8192), 'low'), tokens: 85 },
    { model: 'gpt-4o', part: image('https://example.com/cat.png'), tokens: 85 + 8 * 170 },
    { model: 'gpt-4o-mini', part: image(imageDataUrl('gif', 1024, 1024)), tokens: 2833 + 4 * 5667 },
    { model: 'gpt-4.1-mini', part: image(imageDataUrl('webp-vp8', 1024, 1024), 'low'), tokens: Math.ceil(1024 * 1.62) },
    { model: 'gpt-4.1-nano', part: image('https://example.com/cat.png'), tokens: Math.ceil(1536 * 2.46) },
  ])('$model: $tokens tokens for $part.image_url.detail $part.image_url.url.length-character URL', async ({ model: id, part, tokens }) => {
    const model = prices.chat(id)!;
    const { key } = await funded(env.gw, 10_000_000);
    let release!: () => void;
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(10, 1) }), after: new Promise<void>((resolve) => (release = resolve)) });
    const text = { type: 'text', text: 'What is in this picture?' };
    const request = { model: id, max_tokens: 1, messages: [{ role: 'user', content: [text, part] }] };
    const pending = postChat(env.gw, key, request);
    await env.stub.waitForRequests(1);
    // The account's first request: its text is counted (tiktoken), its image held by the model's rule.
    const textTokens = estimatePromptTokens({ messages: [{ role: 'user', content: [text] }] }, model);
    expect((await accountView(env.gw, key)).held).toBe(chargeFor({ inputTokens: textTokens + tokens, cachedInputTokens: 0, outputTokens: 1 }, model));
    release();
    expect((await pending).status).toBe(200);
  });
});

describe('counting never blocks the server', () => {
  /** Runs `work` while sampling the event loop's delay; returns the longest delay seen, in ms. */
  async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    // /healthz keeps being asked while the work runs: every answer is a turn of the event loop.
    let running = true;
    const probes = (async () => {
      let answered = 0;
      while (running) answered += (await fetch(`${env.gw.url}/healthz`)).ok ? 1 : 0;
      return answered;
    })();
    try {
      const result = await work();
      running = false;
      expect(await probes).toBeGreaterThan(0);
      return { result, stallMs: delay.max / 1e6 };
    } finally {
      running = false;
      delay.disable();
    }
  }

  it('a 30k-character emoji prompt (superlinear for tiktoken) stalls the event loop for well under 250 ms', async () => {
    const { key } = await funded(env.gw, 10_000_000);
    // Warm up first (the first requests compile code, the first large prompt starts the counting
    // worker), so what is measured is the counting of this prompt.
    for (const content of ['Hello', 'Count these words. '.repeat(500)]) {
      expect((await postChat(env.gw, key, { model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content }] })).status).toBe(200);
    }
    const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: '😀🎉🚀🧠🐍🌍💡🔥'.repeat(3750) }] });
    const { result, stallMs } = await longestStall(() => postChat(env.gw, key, body));
    expect(result.status).toBe(200);
    expect(stallMs).toBeLessThan(250);
  });

  it('a 2.5M-character emoji prompt is counted (as its bytes, capped by the context window), never a 500', async () => {
    const { key } = await funded(env.gw, 10_000_000);
    // OpenAI refuses, unbilled, a prompt longer than the model takes.
    env.stub.enqueue(openAIError(400, 'This model\'s maximum context length is 128000 tokens.', 'invalid_request_error', 'context_length_exceeded'));
    const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: '😀'.repeat(1_250_000) }] });
    // The gateway, the stub and this client share one event loop: parsing and re-serializing 5 MB of
    // JSON takes its time in each, so the bound here is loose; the counting itself runs in the worker.
    const { result, stallMs } = await longestStall(() => postChat(env.gw, key, body));
    expect(stallMs).toBeLessThan(2_000);
    expect(result.status).toBe(400);
    expect(await result.json()).toMatchObject({ error: { code: 'context_length_exceeded' } });
    await settleAll(env.gw);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000_000, held: 0 });
  });
});
