// The same key limits without Redis (the embedded single-instance mode): the in-process store gives
// the same answers and headers as the Redis scripts.
import { describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';

const env = useTestGateway({ holds: 'memory' });

const chat = (key: string, maxTokens = 5, outputTokens = 5) =>
  env.gw.request('POST', '/v1/chat/completions', {
    key,
    body: { model: 'mock', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] },
    headers: { 'x-mock-output-tokens': String(outputTokens) },
  });

async function keyWith(limits: Record<string, unknown>) {
  return keyFor(env.gw, await accountWithBalance(env.gw, 100_000), 'user', limits);
}

describe('key limits in process', () => {
  it('rpm: admits the limit with decreasing remaining-requests, then 429 with retry-after', async () => {
    expect(env.gw.gateway.deps.redis).toBeNull();
    const key = await keyWith({ rpm: 2 });
    const first = await chat(key);
    const second = await chat(key);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.headers.get('x-ratelimit-remaining-requests'), second.headers.get('x-ratelimit-remaining-requests')]).toEqual(['1', '0']);
    const refused = await chat(key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limit_exceeded');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(30);
  });

  it('tpm: refuses what the bucket cannot cover, and gives back what a request did not use', async () => {
    const key = await keyWith({ tpm: 1000 });
    // Asks for 600 output tokens and gets 5: corrected at settlement, so the next one fits.
    expect((await chat(key, 600)).status).toBe(200);
    const second = await chat(key, 600);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    // A request whose estimate exceeds what is left is refused (about 50 s of refill away).
    const other = await keyWith({ tpm: 100 });
    expect((await chat(other, 90, 90)).status).toBe(200);
    const refused = await chat(other, 90, 90);
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toMatch(/tokens per minute/);
  });

  it('budget: stops the key with 402 budget_exceeded once the month is spent', async () => {
    const key = await keyWith({ budget: 40 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await chat(key)).status);
    const first = statuses.indexOf(402);
    expect(first).toBeGreaterThan(0);
    expect(statuses.slice(first).every((s) => s === 402)).toBe(true);
    const refused = await chat(key);
    expect(refused.body.error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota' });
    expect(refused.headers.get('x-tokengate-budget-remaining')).toBe('0');
  });
});
