// GET /metrics after a few metered requests through the openai SDK: requests by route pattern and
// status, tokens metered by model and kind, upstream and overhead histograms, holds and queue gauges.
import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { keyFor } from '../helpers/factories.js';
import { completion, textChunks, usage } from '../helpers/stub-openai.js';
import { funded, settleAll, useProxyEnv } from '../proxy/support.js';

const env = useProxyEnv();

/** The value of one sample of the text exposition format, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(key: string): Promise<string> {
  const response = await fetch(`${env.gw.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

describe('GET /metrics', () => {
  it('counts metered calls by route, tokens by model and kind, and times upstream and gateway overhead', async () => {
    const { client, key } = await funded(env.gw, 50_000_000);
    const messages = [{ role: 'user' as const, content: 'Count for me.' }];

    env.stub.enqueue({ kind: 'json', body: completion({ content: 'Thought hard.', usage: usage(2000, 500, { cached: 1536, reasoning: 300 }) }) });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages });

    env.stub.enqueue({ kind: 'stream', chunks: textChunks(['a', 'b', 'c', 'd', 'e']), usage: usage(14, 9, { cached: 4 }), everyMs: 20 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    for await (const part of stream) expect(part).toBeDefined();

    const mock = await client.chat.completions.create({ model: 'mock', messages, max_tokens: 20 });
    const mockUsage = mock.usage!;

    // A refused call (unknown model): counted as a request, not as tokens or upstream time.
    await expect(client.chat.completions.create({ model: 'no-such-model', messages })).rejects.toMatchObject({ status: 400 });
    // A route with an id in its path is labelled by its pattern.
    expect((await env.gw.request('GET', '/admin/accounts/acct_not_there', { key: env.gw.adminKey })).status).toBe(404);
    await settleAll(env.gw);

    const auditor = await keyFor(env.gw, { id: (await env.gw.request('GET', '/account', { key })).body.id }, 'auditor');
    const text = await scrape(auditor);

    const chat = { method: 'POST', route: '/v1/chat/completions' };
    expect(sample(text, 'tokengate_http_requests_total', { ...chat, status: '200' })).toBe(3);
    expect(sample(text, 'tokengate_http_requests_total', { ...chat, status: '400' })).toBe(1);
    expect(sample(text, 'tokengate_http_requests_total', { method: 'GET', route: '/admin/accounts/:id', status: '404' })).toBe(1);
    expect(text).not.toContain('acct_not_there');

    const tokens = (model: string, kind: string) => sample(text, 'tokengate_tokens_metered_total', { model, kind });
    expect(tokens('gpt-4o-mini', 'input')).toBe(2000 - 1536 + (14 - 4));
    expect(tokens('gpt-4o-mini', 'cached')).toBe(1536 + 4);
    expect(tokens('gpt-4o-mini', 'output')).toBe(500 + 9);
    expect(tokens('gpt-4o-mini', 'reasoning')).toBe(300);
    expect(tokens('mock', 'input')).toBe(mockUsage.prompt_tokens);
    expect(tokens('mock', 'output')).toBe(mockUsage.completion_tokens);
    expect(tokens('no-such-model', 'input')).toBeUndefined();

    expect(sample(text, 'tokengate_upstream_duration_seconds_count', { provider: 'openai' })).toBe(2);
    expect(sample(text, 'tokengate_upstream_duration_seconds_count', { provider: 'mock' })).toBe(1);
    expect(sample(text, 'tokengate_gateway_overhead_seconds_count', { provider: 'openai' })).toBe(2);
    expect(sample(text, 'tokengate_gateway_overhead_seconds_count', { provider: 'mock' })).toBe(1);
    expect(sample(text, 'tokengate_upstream_duration_seconds_bucket', { provider: 'openai', le: '+Inf' })).toBe(2);
    expect(sample(text, 'tokengate_upstream_duration_seconds_bucket', { provider: 'openai', le: '0.005' })!).toBeLessThanOrEqual(1); // the stream took longer
    expect(text).toContain('# TYPE tokengate_upstream_duration_seconds histogram');
    // The stream took at least its 5 chunks 20 ms apart upstream.
    expect(sample(text, 'tokengate_upstream_duration_seconds_sum', { provider: 'openai' })!).toBeGreaterThanOrEqual(0.08);
    expect(sample(text, 'tokengate_gateway_overhead_seconds_sum', { provider: 'openai' })!).toBeGreaterThan(0);

    // Counts are handed to prom-client at each scrape: a second scrape repeats them, it does not add them again.
    const again = await scrape(auditor);
    expect(sample(again, 'tokengate_tokens_metered_total', { model: 'gpt-4o-mini', kind: 'cached' })).toBe(1540);
    expect(sample(again, 'tokengate_upstream_duration_seconds_count', { provider: 'openai' })).toBe(2);

    expect(sample(text, 'tokengate_holds_open')).toBe(0);
    expect(sample(text, 'tokengate_settlement_queue_depth')).toBe(0);
    expect(sample(text, 'tokengate_settlement_queue_oldest_age_seconds')).toBe(0);
    expect(sample(text, 'tokengate_ledger_write_failures_total')).toBe(0);
    expect(sample(text, 'tokengate_redis_errors_total')).toBe(0);
    expect(sample(text, 'tokengate_postgres_errors_total')).toBe(0);
  });

  it('shows queued settlements while the settler has not written them', async () => {
    const { client } = await funded(env.gw, 50_000_000);
    env.gw.gateway.deps.settler['stopped'] = true; // hold the settler's loop: what is captured stays queued
    try {
      await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'queued' }], max_tokens: 5 });
      const text = await scrape(env.gw.adminKey);
      expect(sample(text, 'tokengate_settlement_queue_depth')!).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'tokengate_settlement_queue_oldest_age_seconds')!).toBeGreaterThanOrEqual(0);
    } finally {
      await settleAll(env.gw);
      env.gw.gateway.deps.settler.start();
    }
    expect(sample(await scrape(env.gw.adminKey), 'tokengate_settlement_queue_depth')).toBe(0);
  });

  it('needs an admin or auditor key, and nothing lands in prom-client\'s global registry', async () => {
    const { key } = await funded(env.gw, 0);
    expect((await env.gw.request('GET', '/metrics')).status).toBe(401);
    expect((await env.gw.request('GET', '/metrics', { key })).status).toBe(403);
    expect((await register.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('tokengate_'))).toEqual([]);
  });
});
