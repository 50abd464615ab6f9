// Idempotency-Key on /v1/chat/completions (SPEC 2.3, 4): a retry with the same key and body gets the
// first answer and is not billed twice; the same key with another body is refused.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { completion, openAIError, textChunks, usage } from '../helpers/stub-openai.js';
import {
  accountView,
  expectOpenAIErrorShape,
  funded,
  ledgerRows,
  postChat,
  settleAll,
  settledUsage,
  useProxyEnv,
  usageLedgerRows,
  errorOf,
} from './support.js';


const env = useProxyEnv();

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Only once, please.' }], max_tokens: 100 };

describe('Idempotency-Key', () => {
  it('a retry with the same key and body gets the same answer; the provider is called and billed once', async () => {
    const start = 10_000;
    const { key, accountId } = await funded(env.gw, start);
    const idempotencyKey = randomUUID();
    env.stub.enqueue({ kind: 'json', body: completion({ content: 'The one answer.', usage: usage(12, 4) }) });

    const first = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(first.status).toBe(200);
    const firstBytes = Buffer.from(await first.arrayBuffer());
    const second = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(second.status).toBe(200);
    const secondBytes = Buffer.from(await second.arrayBuffer());

    expect(secondBytes.equals(firstBytes)).toBe(true);
    expect(JSON.parse(secondBytes.toString('utf8'))).toMatchObject({ choices: [{ message: { content: 'The one answer.' } }] });
    expect(second.headers.get('x-tokengate-cost')).toBe(first.headers.get('x-tokengate-cost'));
    expect(second.headers.get('x-tokengate-idempotent-replay')).toBe('true');
    expect(env.stub.requests).toHaveLength(1);

    await settleAll(env.gw);
    const usageEntries = (await ledgerRows(env.sql, accountId)).filter((r) => r.type === 'usage');
    expect(usageEntries).toHaveLength(1);
    expect(usageEntries[0]!.reference).toBe(first.headers.get('x-request-id'));
    expect(await usageLedgerRows(env.sql, second.headers.get('x-request-id')!)).toEqual([]);
    const cost = Number(first.headers.get('x-tokengate-cost'));
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start - cost, held: 0 });
  });

  it('the same key with a different body: 409', async () => {
    const { key } = await funded(env.gw, 10_000);
    const idempotencyKey = randomUUID();
    const first = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(first.status).toBe(200);
    const other = await postChat(env.gw, key, { ...body, max_tokens: 101 }, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(other.status).toBe(409);
    expectOpenAIErrorShape(await other.json());
    expect(env.stub.requests).toHaveLength(1);
  });

  it('the same key while the first request is still running: 409, and the first completes normally', async () => {
    const { key } = await funded(env.gw, 10_000);
    const idempotencyKey = randomUUID();
    let release!: () => void;
    env.stub.enqueue({ kind: 'json', body: completion({ usage: usage(12, 4) }), after: new Promise<void>((resolve) => (release = resolve)) });

    const first = postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    await env.stub.waitForRequests(1);
    const concurrent = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(concurrent.status).toBe(409);
    expectOpenAIErrorShape(await concurrent.json());
    release();
    expect((await first).status).toBe(200);
    expect(env.stub.requests).toHaveLength(1);
  });

  it('keys are scoped per account: another account with the same key is served and billed on its own', async () => {
    const a = await funded(env.gw, 10_000);
    const b = await funded(env.gw, 10_000);
    const idempotencyKey = randomUUID();
    const first = await postChat(env.gw, a.key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    const second = await postChat(env.gw, b.key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('x-tokengate-idempotent-replay')).toBeNull();
    expect(env.stub.requests).toHaveLength(2);
  });

  it('a retry after a provider error runs again (the failed attempt is not replayed, nor stuck in progress)', async () => {
    const { key } = await funded(env.gw, 10_000);
    const idempotencyKey = randomUUID();
    env.stub.enqueue(openAIError(500, 'The server had an error while processing your request.', 'server_error', null));
    const failed = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(failed.status).toBe(500);

    env.stub.enqueue({ kind: 'json', body: completion({ content: 'Second time lucky.', usage: usage(12, 4) }) });
    const retry = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ choices: [{ message: { content: 'Second time lucky.' } }] });
    expect(env.stub.requests).toHaveLength(2);
  });

  it('a streamed answer is replayed byte for byte and billed once', async () => {
    const { key, accountId } = await funded(env.gw, 10_000);
    const idempotencyKey = randomUUID();
    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['Stream', 'ed once.']), usage: usage(12, 4) });
    const streamBody = { ...body, stream: true };

    const first = await postChat(env.gw, key, streamBody, { headers: { 'Idempotency-Key': idempotencyKey } });
    const firstText = await first.text();
    await settledUsage(env, first.headers.get('x-request-id')!);
    const second = await postChat(env.gw, key, streamBody, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(second.status).toBe(200);
    expect(await second.text()).toBe(firstText);
    expect(firstText).toContain('ed once.');
    expect(env.stub.requests).toHaveLength(1);
    await settleAll(env.gw);
    expect((await ledgerRows(env.sql, accountId)).filter((r) => r.type === 'usage')).toHaveLength(1);
  });

  it('an answer too large to keep is delivered and billed once, says so in a header, and a retry learns it was billed', async () => {
    const { key, accountId } = await funded(env.gw, 1_000_000);
    const idempotencyKey = randomUUID();
    env.stub.enqueue({ kind: 'json', body: completion({ content: 'x'.repeat(1_100_000), usage: usage(12, 4) }) });

    const first = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-tokengate-idempotency')).toBe('not-replayable');
    expect(((await first.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toHaveLength(1_100_000);

    const retry = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
    expect(retry.status).toBe(409);
    const error = await errorOf(retry);
    expect(error.code).toBe('idempotency_response_not_stored');
    expect(error.message).toContain(first.headers.get('x-request-id')!);
    expect(env.stub.requests).toHaveLength(1);
    await settleAll(env.gw);
    expect((await ledgerRows(env.sql, accountId)).filter((r) => r.type === 'usage')).toHaveLength(1);
  });

  it('when storing the answer fails, a retry is still not billed twice', async () => {
    const { key, accountId } = await funded(env.gw, 100_000);
    const idempotencyKey = randomUUID();
    const deps = env.gw.gateway.deps;
    const store = deps.idempotency;
    // The store refuses the full answer (as Redis refusing a write would), but takes a small record.
    deps.idempotency = {
      start: (...args) => store.start(...args),
      abandon: (...args) => store.abandon(...args),
      extend: (...args) => store.extend(...args),
      complete: async (accountId, key, fingerprint, completion) => {
        if ('bodyBase64' in completion) throw new Error('OOM command not allowed when used memory > maxmemory');
        return store.complete(accountId, key, fingerprint, completion);
      },
    };
    try {
      const first = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
      expect(first.status).toBe(200);
      const retry = await postChat(env.gw, key, body, { headers: { 'Idempotency-Key': idempotencyKey } });
      expect(retry.status).toBe(409);
      expect((await errorOf(retry)).code).toBe('idempotency_response_not_stored');
    } finally {
      deps.idempotency = store;
    }
    expect(env.stub.requests).toHaveLength(1);
    await settleAll(env.gw);
    expect((await ledgerRows(env.sql, accountId)).filter((r) => r.type === 'usage')).toHaveLength(1);
  });
});
