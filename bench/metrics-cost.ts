// What the Prometheus metrics add to one metered request, measured in isolation: the calls the app
// and the metered-call lifecycle make per request (one request count, one upstream/overhead
// observation, tokens by kind, a hold opened and closed). Run: npx tsx bench/metrics-cost.ts
import { GatewayMetrics } from '../src/metrics/gateway-metrics.js';

const metrics = new GatewayMetrics();
const usage = { inputTokens: 1200, cachedInputTokens: 200, outputTokens: 300, reasoningTokens: 50 };
const models = ['gpt-4o-mini', 'gpt-4.1', 'mock', 'gemini-2.5-flash'];

function oneRequest(i: number): void {
  const model = models[i & 3]!;
  metrics.holdOpened();
  metrics.tokensMetered(model, usage);
  metrics.holdClosed();
  metrics.call(i & 1 ? 'openai' : 'gemini', 120 + (i % 50), 123 + (i % 50));
  metrics.request('POST', '/v1/chat/completions', i % 97 === 0 ? 429 : 200);
}

const N = Number(process.env.METRICS_BENCH_N ?? 2_000_000);
for (let i = 0; i < 100_000; i++) oneRequest(i); // warm-up
const started = process.hrtime.bigint();
for (let i = 0; i < N; i++) oneRequest(i);
const ns = Number(process.hrtime.bigint() - started) / N;
console.log(`metrics per metered request: ${ns.toFixed(0)} ns (${N.toLocaleString('en-US')} requests)`);
