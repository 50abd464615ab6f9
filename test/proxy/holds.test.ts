// Holds around a request (SPEC 3.4, 3.6, 3.7): refused before the provider when the balance can't pay,
// the output cap clamped to what it pays for, and released (captured or voided) when the client leaves.
import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { affordableOutputTokens, chargeFor } from '../../src/billing/pricing.js';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { chunk, completion, usage } from '../helpers/stub-openai.js';
import {
  GPT_4O_MINI,
  accountView,
  expectNotBilled,
  expectOpenAIErrorShape,
  funded,
  ledgerRows,
  postChat,
  settleAll,
  settledUsage,
  useProxyEnv,
} from './support.js';

const logLines: string[] = [];

const env = useProxyEnv({ onLogLine: (line) => logLines.push(line) });

const messages = [{ role: 'user' as const, content: 'Write a very long essay about holds.' }];

describe('refusals before the provider', () => {
  it('balance 0: 402 insufficient_balance, the provider is not called, nothing is billed', async () => {
    const { client, accountId, key } = await funded(env.gw, 0);
    const error = await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    const apiError = error as APIError;
    expect(apiError.status).toBe(402);
    expect(apiError.code).toBe('insufficient_balance');
    expect(apiError.type).toBe('insufficient_quota');
    expect(apiError.requestID).toMatch(/^req_/);
    expect(env.stub.requests).toHaveLength(0);
    await expectNotBilled(env, apiError.requestID!);
    expect(await ledgerRows(env.sql, accountId)).toEqual([]);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 0, held: 0 });

    // Streaming requests are refused the same way, before any byte is streamed.
    const raw = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true });
    expect(raw.status).toBe(402);
    expectOpenAIErrorShape(await raw.json());
    expect(env.stub.requests).toHaveLength(0);
  });
});

describe('usage beyond the hold', () => {
  it('is billed in full (the provider charged it), and the account is refused until a credit makes its balance positive', async () => {
    const { client, key, accountId } = await funded(env.gw, 500);
    // The provider reports far more prompt than the gateway could see (e.g. a file it expanded).
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(20_000, 10) }) });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 10 }).withResponse();
    const cost = Number(response.headers.get('x-tokengate-cost'));
    expect(cost).toBe(chargeFor({ inputTokens: 20_000, cachedInputTokens: 0, outputTokens: 10 }, GPT_4O_MINI));
    expect(cost).toBeGreaterThan(500);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 500 - cost, held: 0 });

    const refused = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 10 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(402);
    expect((refused as APIError).message).toContain('negative');
    expect(env.stub.requests).toHaveLength(1);

    const grant = await env.gw.request('POST', `/admin/accounts/${accountId}/grants`, { key: env.gw.adminKey, body: { amount: cost, reason: 'top up', idempotencyKey: `top-up-${accountId}` } });
    expect(grant.status).toBe(201);
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(10, 5) }) });
    const { response: again } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 10 }).withResponse();
    expect(again.status).toBe(200);
    await settleAll(env.gw);
    const rows = await ledgerRows(env.sql, accountId);
    expect(rows.at(-1)!.balance_after).toBe(500 - cost + cost - Number(again.headers.get('x-tokengate-cost')));
  });
});

describe('a balance smaller than the worst case', () => {
  // A prompt whose cost is a whole number of billing tokens (20 tokens x 0.15), so that the ceil of
  // the prompt charge leaves no fraction over and the balance below pays exactly 100 output tokens.
  const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Write a long essay about holds' }], max_tokens: 5000 };
  while (estimatePromptTokens(request, 'o200k_base') % 20 !== 0) request.messages[0]!.content += ' again';
  const promptTokens = estimatePromptTokens(request, 'o200k_base');
  // Pays the prompt estimate plus 100 output tokens, far below the 5000 asked for.
  const balance = chargeFor({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: 0 }, GPT_4O_MINI) + chargeFor({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 100 }, GPT_4O_MINI);

  it('clamp (default): the provider is asked for no more output than the balance pays for', async () => {
    const { client, key, accountId } = await funded(env.gw, balance);
    // The stub generates every token it is allowed to, the worst case for the gateway.
    env.stub.enqueue((body) => ({ kind: 'json', body: { ...completionFor(Number(body.max_tokens)), usage: usage(promptTokens, Number(body.max_tokens)) } }));

    const { data, response } = await client.chat.completions.create(request).withResponse();
    const sentCap = Number(env.stub.requests[0]!.body.max_tokens);
    expect(sentCap).toBeGreaterThan(0);
    expect(sentCap).toBeLessThanOrEqual(100);
    expect(sentCap).toBe(affordableOutputTokens(balance, promptTokens, GPT_4O_MINI));
    expect(sentCap).toBe(100);
    expect(env.stub.requests[0]!.body.max_completion_tokens).toBeUndefined();
    expect(data.usage!.completion_tokens).toBe(sentCap);

    const cost = Number(response.headers.get('x-tokengate-cost'));
    expect(cost).toBe(chargeFor({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: sentCap }, GPT_4O_MINI));
    expect(cost).toBeLessThanOrEqual(balance);
    await settleAll(env.gw);
    const rows = await ledgerRows(env.sql, accountId);
    expect(rows.every((r) => r.balance_after >= 0)).toBe(true);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: balance - cost, held: 0 });
  });

  it("reject: the same request gets 402 and the provider is not called", async () => {
    const { client, key } = await funded(env.gw, balance);
    await env.gw.gateway.deps.settings.update({ reservationPolicy: 'reject' });
    try {
      const error = await client.chat.completions.create(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBe(402);
      expect((error as APIError).code).toBe('insufficient_balance');
      expect(env.stub.requests).toHaveLength(0);
      expect(await accountView(env.gw, key)).toMatchObject({ balance, held: 0 });

      // A request whose worst case fits the balance still runs under reject.
      env.stub.enqueue({ kind: 'json', body: { ...completionFor(50), usage: usage(promptTokens, 50) } });
      const { response } = await client.chat.completions.create({ ...request, max_tokens: 50 }).withResponse();
      expect(response.status).toBe(200);
      expect(env.stub.requests[0]!.body.max_tokens).toBe(50);
    } finally {
      await env.gw.gateway.deps.settings.update({ reservationPolicy: 'clamp' });
    }
  });
});

function completionFor(outputTokens: number) {
  return {
    id: 'chatcmpl-clamped',
    object: 'chat.completion',
    created: 1_760_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: 'word '.repeat(outputTokens).trim(), refusal: null }, logprobs: null, finish_reason: 'length' }],
  };
}

