// No overspend under concurrency (SPEC 2.4): 50 parallel requests with max_tokens against a balance that
// pays for about 10 worst cases. Every admitted request holds its money at the same time (the stub
// answers nobody until all 50 were either refused or received), and each then uses its whole cap.
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affordableOutputTokens, chargeFor } from '../../src/billing/pricing.js';
import { estimatePromptTokens } from '../../src/metering/tokenizer.js';
import { completion, usage } from '../helpers/stub-openai.js';
import { GPT_4O_MINI, accountView, funded, ledgerRows, settleAll, startProxyEnv, type ProxyEnv } from './support.js';

const PARALLEL = 50;
const MAX_TOKENS = 1000;
const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Tell me everything you know.' }], max_tokens: MAX_TOKENS };
const promptTokens = estimatePromptTokens(request, 'o200k_base');
const worstCase = chargeFor({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: MAX_TOKENS }, GPT_4O_MINI);
// Ten worst cases and half of one more, so the eleventh request runs clamped.
const startBalance = 10 * worstCase + Math.floor(worstCase / 2);

describe.each(['redis', 'memory'] as const)('50 parallel requests on the %s hold store', (holds) => {
  let env: ProxyEnv;

  beforeAll(async () => {
    env = await startProxyEnv({ holds });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('never settles more than the balance, never goes negative, and refuses the rest with 402', async () => {
    const { client, accountId, key } = await funded(env.gw, startBalance);

    let refused = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const check = () => {
      if (refused + env.stub.requests.length === PARALLEL) release();
    };
    // The provider produces every token it may: the worst case for the gateway.
    env.stub.setDefault((body) => {
      check();
      const cap = Number(body.max_tokens);
      return { kind: 'json', body: completion({ content: 'x'.repeat(cap), usage: usage(promptTokens, cap) }), after: gate };
    });

    const results = await Promise.allSettled(
      Array.from({ length: PARALLEL }, () =>
        client.chat.completions
          .create(request)
          .withResponse()
          .catch((error: unknown) => {
            if (error instanceof APIError && error.status === 402) {
              refused++;
              check();
            }
            throw error;
          }),
      ),
    );

    const served = results.filter((r) => r.status === 'fulfilled');
    const failures = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as APIError);
    expect(failures.every((e) => e instanceof APIError && e.status === 402 && e.code === 'insufficient_balance')).toBe(true);
    expect(served.length + failures.length).toBe(PARALLEL);
    // Ten holds of the worst case, an eleventh of the half left (clamped), then nothing is available.
    expect(served).toHaveLength(11);
    expect(failures).toHaveLength(PARALLEL - 11);
    expect(env.stub.requests).toHaveLength(11);
    const caps = env.stub.requests.map((r) => Number(r.body.max_tokens)).sort((a, b) => b - a);
    expect(caps.slice(0, 10)).toEqual(Array(10).fill(MAX_TOKENS));
    expect(caps[10]).toBe(affordableOutputTokens(Math.floor(worstCase / 2), promptTokens, GPT_4O_MINI));
    expect(caps[10]).toBeGreaterThan(0);
    expect(caps[10]).toBeLessThan(MAX_TOKENS);

    await settleAll(env.gw);
    const rows = await ledgerRows(env.sql, accountId);
    const usageRows = rows.filter((r) => r.type === 'usage');
    expect(usageRows).toHaveLength(served.length);
    const spent = -usageRows.reduce((sum, r) => sum + r.amount, 0);
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(startBalance);
    expect(rows.every((r) => r.balance_after >= 0)).toBe(true);

    const [account] = await env.sql`select balance::int as balance from accounts where id = ${accountId}`;
    const ledgerSum = rows.reduce((sum, r) => sum + r.amount, 0);
    expect(account!.balance).toBe(ledgerSum);
    expect(account!.balance).toBe(startBalance - spent);
    expect(rows.at(-1)!.balance_after).toBe(account!.balance);

    const reconcile = await env.gw.request('GET', '/admin/reconcile', { key: env.gw.adminKey });
    expect(reconcile.status).toBe(200);
    expect(reconcile.body).toMatchObject({ ok: true, mismatches: [] });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: startBalance - spent, held: 0 });
  });
});
