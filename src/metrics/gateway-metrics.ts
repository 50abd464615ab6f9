// Prometheus metrics of one gateway instance (GET /metrics). One registry per app instance (in deps), never
// prom-client's global one, so two gateways in one process (tests) count apart. The hot path only
// increments children looked up in maps: label strings are built once per model, route and status.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StoreStats } from '../billing/holds/types.js';

/** Token kinds as metered: `input` excludes cached prompt tokens; `reasoning` is part of `output`. */
export type TokenKind = 'input' | 'cached' | 'output' | 'reasoning';

export interface MeteredTokens {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

type CounterChild = ReturnType<Counter['labels']>;
type HistogramChild = ReturnType<Histogram['labels']>;

interface TokenChildren {
  input: CounterChild;
  cached: CounterChild;
  output: CounterChild;
  reasoning: CounterChild;
}

// Seconds: from a few ms (mock, cached answers) to minutes (long reasoning streams).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
// Gateway overhead is expected in milliseconds: finer at the low end.
const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly upstream: Histogram<'provider'>;
  private readonly overhead: Histogram<'provider'>;
  private readonly tokens: Counter<'model' | 'kind'>;
  private readonly holdsOpen: Gauge;
  private readonly ledgerFailures: Counter;
  private readonly redisErrorCount: Counter;
  private readonly postgresErrorCount: Counter;
  private readonly requestChildren = new Map<string, Map<number, CounterChild>>();
  private readonly upstreamChildren = new Map<string, { upstream: HistogramChild; overhead: HistogramChild }>();
  private readonly tokenChildren = new Map<string, TokenChildren>();
  private queueStats: (() => Promise<StoreStats>) | null = null;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'tokengate_http_requests_total', help: 'HTTP requests by method, route pattern and status.', labelNames: ['method', 'route', 'status'], registers });
    this.upstream = new Histogram({
      name: 'tokengate_upstream_duration_seconds',
      help: 'Time the provider took for a metered call: until the whole answer (non-stream) or the end of the stream.',
      labelNames: ['provider'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.overhead = new Histogram({
      name: 'tokengate_gateway_overhead_seconds',
      help: 'Time a metered call spent in the gateway: total (request received to settled) minus upstream.',
      labelNames: ['provider'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.tokens = new Counter({ name: 'tokengate_tokens_metered_total', help: 'Provider tokens metered and billed, by model and kind (input excludes cached; reasoning is part of output).', labelNames: ['model', 'kind'], registers });
    this.holdsOpen = new Gauge({ name: 'tokengate_holds_open', help: 'Holds taken by metered calls of this instance and not yet captured or voided.', registers });
    this.ledgerFailures = new Counter({ name: 'tokengate_ledger_write_failures_total', help: 'Settlement writes (usage and ledger rows) that Postgres did not commit; they stay queued and are retried.', registers });
    this.redisErrorCount = new Counter({ name: 'tokengate_redis_errors_total', help: 'Redis connection errors and commands that gave up.', registers });
    this.postgresErrorCount = new Counter({ name: 'tokengate_postgres_errors_total', help: 'Postgres reads or writes that failed (connection errors, timeouts).', registers });
    const metrics = this;
    new Gauge({
      name: 'tokengate_settlement_queue_depth',
      help: 'Settlements captured but not yet written to Postgres (the queue is shared by all instances on one Redis).',
      registers,
      async collect() {
        const stats = await metrics.queueStats?.();
        this.set(stats?.queuedSettlements ?? 0);
      },
    });
    new Gauge({
      name: 'tokengate_settlement_queue_oldest_age_seconds',
      help: 'Age of the oldest queued settlement (0 when the queue is empty).',
      registers,
      async collect() {
        const stats = await metrics.queueStats?.();
        this.set(stats?.oldestQueuedAtMs == null ? 0 : Math.max(0, (Date.now() - stats.oldestQueuedAtMs) / 1000));
      },
    });
  }

  /** Where the settlement queue gauges read from at scrape time (the hold store). */
  observeQueue(stats: () => Promise<StoreStats>): void {
    this.queueStats = stats;
  }

  request(method: string, route: string, status: number): void {
    const key = `${method} ${route}`;
    let byStatus = this.requestChildren.get(key);
    if (!byStatus) this.requestChildren.set(key, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) byStatus.set(status, (child = this.requests.labels(method, route, String(status))));
    child.inc();
  }

  /** One metered call that reached the provider: its upstream time and the rest (both in ms). */
  call(provider: string, upstreamMs: number, totalMs: number): void {
    let children = this.upstreamChildren.get(provider);
    if (!children) this.upstreamChildren.set(provider, (children = { upstream: this.upstream.labels(provider), overhead: this.overhead.labels(provider) }));
    children.upstream.observe(upstreamMs / 1000);
    children.overhead.observe(Math.max(0, totalMs - upstreamMs) / 1000);
  }

  tokensMetered(model: string, usage: MeteredTokens): void {
    let children = this.tokenChildren.get(model);
    if (!children) {
      children = {
        input: this.tokens.labels(model, 'input'),
        cached: this.tokens.labels(model, 'cached'),
        output: this.tokens.labels(model, 'output'),
        reasoning: this.tokens.labels(model, 'reasoning'),
      };
      this.tokenChildren.set(model, children);
    }
    const uncached = usage.inputTokens - usage.cachedInputTokens;
    if (uncached > 0) children.input.inc(uncached);
    if (usage.cachedInputTokens > 0) children.cached.inc(usage.cachedInputTokens);
    if (usage.outputTokens > 0) children.output.inc(usage.outputTokens);
    if (usage.reasoningTokens > 0) children.reasoning.inc(usage.reasoningTokens);
  }

  holdOpened(): void {
    this.holdsOpen.inc();
  }

  holdClosed(): void {
    this.holdsOpen.dec();
  }

  ledgerWriteFailed(count = 1): void {
    this.ledgerFailures.inc(count);
  }

  redisError(): void {
    this.redisErrorCount.inc();
  }

  postgresError(): void {
    this.postgresErrorCount.inc();
  }

  /** The text exposition format and its content type. */
  async expose(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
