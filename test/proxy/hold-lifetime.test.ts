// A hold lives as long as its request (SPEC 2.6, issue 7 item 3): a stream that runs longer than
// HOLD_TTL_SECONDS keeps its hold, so a second request cannot spend the same money meanwhile; and an
// Idempotency-Key marker lives as long as its request too (issue 7 item 10).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chargeFor } from '../../src/billing/pricing.js';
import { chunk, completion, textChunks, usage } from '../helpers/stub-openai.js';
import { GPT_4O_MINI, accountView, errorOf, funded, postChat, settleAll, settledUsage, useProxyEnv } from './support.js';

// A 1 s hold lifetime: any request running 2 s outlives it unless it is kept alive.
const env = useProxyEnv({ env: { HOLD_TTL_SECONDS: '1', UPSTREAM_TIMEOUT_MS: '900' } });

const messages = [{ role: 'user' as const, content: 'A long story, please.' }];

describe('a request that runs longer than the hold lifetime', () => {
  it('keeps its hold: a second request cannot spend the held money, and the balance never goes negative', async () => {
    const maxTokens = 5_000; // worst case 3,000 tokens of output: the hold is clamped to the whole balance
    const { key } = await funded(env.gw, 1_000);
    const pieces = Array.from({ length: 10 }, (_, i) => ` part ${i}`);
    // 13 frames, 250 ms apart: about 3 s, three hold lifetimes.
    // The stub generates every token it is allowed to: the worst case for the gateway.
    env.stub.enqueue((body) => ({ kind: 'stream', chunks: textChunks(pieces), usage: usage(12, Number(body.max_tokens)), everyMs: 250 }));
    const response = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: maxTokens });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    // Six content frames in, at least 1.5 s have passed since the hold was taken.
    while (!received.includes(' part 5')) received += decoder.decode((await reader.read()).value);

    expect(await accountView(env.gw, key)).toMatchObject({ held: 1_000, available: 0 });
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(12, maxTokens) }) });
    const second = await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, max_tokens: maxTokens });
    expect(second.status).toBe(402);
    expect(env.stub.requests).toHaveLength(1);

    while (!(await reader.read()).done);
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row.status).toBe('ok');
    // The stub generated every token it was allowed: what the balance paid for, and no more.
    const sentCap = Number(env.stub.requests[0]!.body.max_tokens);
    expect(sentCap).toBeLessThan(maxTokens);
    expect(row.cost).toBe(chargeFor({ inputTokens: 12, cachedInputTokens: 0, outputTokens: sentCap }, GPT_4O_MINI));
    const after = await accountView(env.gw, key);
    expect(after).toMatchObject({ balance: 1_000 - row.cost, held: 0 });
    expect(after.balance).toBeGreaterThanOrEqual(0);
  });

  it('keeps its Idempotency-Key marker: a retry while a long stream runs is refused, not run twice', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    const idempotencyKey = randomUUID();
    const pieces = Array.from({ length: 10 }, (_, i) => ` part ${i}`);
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(pieces), usage: usage(12, 20), everyMs: 250 });
    const body = { model: 'gpt-4o-mini', messages, max_tokens: 100, stream: true };
    const first = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    const reader = first.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    while (!received.includes(' part 6')) received += decoder.decode((await reader.read()).value); // 2 s: two marker lifetimes

    const retry = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(retry.status).toBe(409);
    expect((await errorOf(retry)).code).toBe('idempotency_in_progress');
    while (!(await reader.read()).done);
    await settledUsage(env, first.headers.get('x-request-id')!);
    expect(env.stub.requests).toHaveLength(1);
    const replay = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(replay.headers.get('x-tokengate-idempotent-replay')).toBe('true');
    await replay.text();
    await settleAll(env.gw);
    const rows = await env.sql`select count(*)::int as n from usage_events where account_id = ${accountId}`;
    expect(rows[0]!.n).toBe(1);
  });

  it('an abandoned hold still frees its money after the lifetime (nothing keeps it alive)', async () => {
    const { key, accountId } = await funded(env.gw, 1_000);
    const { holds } = env.gw.gateway.deps;
    // A hold no request is running for, as a crashed process leaves behind.
    await holds.reserve({ accountId, holdId: `req_orphan_${randomUUID()}`, amountTokens: 800, minimumTokens: 800, ttlSeconds: 1 });
    expect((await accountView(env.gw, key)).held).toBe(800);
    const deadline = Date.now() + 5_000;
    while ((await accountView(env.gw, key)).held > 0) {
      if (Date.now() > deadline) throw new Error('the abandoned hold never expired');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    env.stub.enqueue({ kind: 'stream', chunks: [chunk({ content: 'ok' }, 'stop')], usage: usage(5, 1) });
    expect((await postChat(env.gw, key, { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 100 })).status).toBe(200);
  });
});
