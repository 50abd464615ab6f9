// Per-key limits on the metered path (SPEC 3.3), through the OpenAI SDK and raw fetch: rpm and tpm
// within one window with OpenAI's x-ratelimit-* headers, token estimates corrected by real usage, and
// a monthly budget that stops one key and not the account's others. Refused requests cost nothing.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { MOCK, accountView, postChat, sdk, settleAll, useProxyEnv } from '../proxy/support.js';

const env = useProxyEnv();

const messages = [{ role: 'user' as const, content: 'Count to three.' }];
const PROMPT = estimatePromptTokens({ model: 'mock', messages }, MOCK.encoding);

async function limitedKey(limits: Record<string, unknown>, balance = 1_000_000) {
  const account = await accountWithBalance(env.gw, balance);
  const key = await keyFor(env.gw, account, 'user', limits);
  return { account, key, client: sdk(env.gw, key) };
}

const chat = (key: string, maxTokens: number, outputTokens: number) =>
  postChat(env.gw, key, { model: 'mock', messages, max_tokens: maxTokens }, { headers: { 'x-mock-output-tokens': String(outputTokens) } });

async function usageCount(accountId: string): Promise<number> {
  await settleAll(env.gw);
  const [{ n }] = await env.sql<[{ n: number }]>`select count(*)::int as n from usage_events where account_id = ${accountId}`;
  return n;
}

describe('requests per minute', () => {
  it('admits rpm requests with decreasing remaining-requests, then 429 with retry-after, unbilled', async () => {
    const { account, key, client } = await limitedKey({ rpm: 3 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions.create({ model: 'mock', messages, max_tokens: 5 }).withResponse();
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+ms|\d+(\.\d+)?s)$/);
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBeNull(); // no tpm on this key
      remaining.push(response.headers.get('x-ratelimit-remaining-requests')!);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const before = await accountView(env.gw, key);

    const refused = await client.chat.completions.create({ model: 'mock', messages, max_tokens: 5 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.status).toBe(429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toMatch(/requests per minute/);
    const retryAfter = Number(error.headers?.get('retry-after'));
    // One request comes back every 60/3 = 20 s.
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(Number(error.headers?.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(error.headers?.get('x-ratelimit-limit-requests')).toBe('3');
    expect(error.headers?.get('x-ratelimit-remaining-requests')).toBe('0');

    // Refused before the hold: nothing held, nothing billed.
    expect(await accountView(env.gw, key)).toEqual(before);
    expect(before.held).toBe(0);
    expect(await usageCount(account.id)).toBe(3);
  });

  it("one key's rate limit leaves the account's other keys alone", async () => {
    const { account, key } = await limitedKey({ rpm: 1 });
    const other = await keyFor(env.gw, account);
    expect((await chat(key, 5, 5)).status).toBe(200);
    expect((await chat(key, 5, 5)).status).toBe(429);
    const free = await chat(other, 5, 5);
    expect(free.status).toBe(200);
    expect(free.headers.get('x-ratelimit-limit-requests')).toBeNull(); // a key without limits gets none
  });
});

describe('tokens per minute', () => {
  it('holds the estimate (prompt + output cap), refuses what the bucket cannot cover, with token headers', async () => {
    const { key } = await limitedKey({ tpm: 1000 });
    const first = await chat(key, 600, 600);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    // At admission: 1000 - (prompt + 600), plus at most a token or two refilled since.
    const left = Number(first.headers.get('x-ratelimit-remaining-tokens'));
    expect(left).toBeGreaterThanOrEqual(1000 - (PROMPT + 600));
    expect(left).toBeLessThanOrEqual(1000 - (PROMPT + 600) + 3);
    expect(first.headers.get('x-ratelimit-reset-tokens')).toMatch(/^\d+(\.\d+)?s$/);

    const second = await chat(key, 600, 600);
    expect(second.status).toBe(429);
    const body = (await second.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe('rate_limit_exceeded');
    expect(body.error.message).toMatch(/tokens per minute/);
    // About (prompt + 600 - what is left) / 1000 tokens a minute: ~13 s.
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(10);
    expect(retryAfter).toBeLessThanOrEqual(15);
    expect(second.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    expect(Number(second.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(PROMPT + 600);
  });

  it('gives back what a request did not use: the bucket is corrected by the real usage at settlement', async () => {
    const { key } = await limitedKey({ tpm: 1000 });
    // Each asks for up to 600 output tokens but gets 5: without the correction the second is refused.
    for (let i = 0; i < 3; i++) {
      const response = await chat(key, 600, 5);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const streamed = await postChat(env.gw, key, { model: 'mock', messages, max_tokens: 600, stream: true }, { headers: { 'x-mock-output-tokens': '5' } });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    await streamed.text();
  });
});

describe('monthly budget', () => {
  it("stops the key once its month's spend reaches the budget (402 budget_exceeded), not the account's other keys", async () => {
    const budget = 150;
    const { account, key } = await limitedKey({ budget });
    const other = await keyFor(env.gw, account);
    const costs: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const response = await chat(key, 20, 20);
      if (response.status === 200) {
        costs.push(Number(response.headers.get('x-tokengate-cost')));
        expect(response.headers.get('x-tokengate-budget-limit')).toBe(String(budget));
        await response.arrayBuffer();
      } else refused = response;
    }
    expect(refused?.status).toBe(402);
    const body = (await refused!.json()) as { error: { code: string; type: string } };
    expect(body.error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota' });
    expect(refused!.headers.get('x-tokengate-budget-remaining')).toBe('0');
    expect(new Date(refused!.headers.get('x-tokengate-budget-reset')!).getUTCDate()).toBe(1);
    // Admitted while below the budget: it stops at most one request's cost past it.
    const spent = costs.reduce((a, b) => a + b, 0);
    expect(spent).toBeGreaterThanOrEqual(budget);
    expect(spent).toBeLessThan(budget + costs[0]!);

    // The account's other key is not limited, and the balance still pays.
    expect((await chat(other, 20, 20)).status).toBe(200);

    // Redis forgets the month's spend: it is read back from Postgres, and the key stays stopped.
    await settleAll(env.gw);
    const [keyId] = await env.sql<{ id: string }[]>`select key_id as id from usage_events where account_id = ${account.id} and key_id is not null group by key_id order by sum(cost) desc limit 1`;
    const redis = env.gw.gateway.deps.redis!;
    const spentKeys = await redis.keys(`${env.gw.redisPrefix}{key:${keyId!.id}}:spent:*`);
    expect(spentKeys).toHaveLength(1);
    await redis.del(...spentKeys);
    expect((await chat(key, 20, 20)).status).toBe(402);
    expect(Number(await redis.get(spentKeys[0]!))).toBe(spent);
  });

  it('concurrent requests reserve their worst case against the budget, so a burst cannot run far past it', async () => {
    const budget = 200;
    const worstCase = PROMPT + 2 * 40; // mock bills 1 per prompt token, 2 per output token
    const { key } = await limitedKey({ budget });
    const responses = await Promise.all(Array.from({ length: 12 }, () => chat(key, 40, 40)));
    const admitted = responses.filter((r) => r.status === 200);
    expect(responses.every((r) => r.status === 200 || r.status === 402)).toBe(true);
    const spent = admitted.reduce((sum, r) => sum + Number(r.headers.get('x-tokengate-cost')), 0);
    expect(admitted.length).toBeGreaterThan(0);
    expect(admitted.length).toBeLessThan(12);
    expect(spent).toBeLessThanOrEqual(budget + worstCase);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
  });
});
