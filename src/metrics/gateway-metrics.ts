// Prometheus metrics of one gateway instance (GET /metrics). One registry per app instance (in deps), never
// prom-client's global one, so two gateways in one process (tests) count apart. The request path only
// adds to numbers in cells looked up in maps (src/metrics/deferred.ts); prom-client sees them at scrape.
import { Counter, Gauge, Registry } from 'prom-client';
import type { StoreStats } from '../billing/holds/types.js';
import { DeferredCounter, DeferredHistogram, type CounterCell, type HistogramCell } from './deferred.js';

/** Token kinds as metered: `input` excludes cached prompt tokens; `reasoning` is part of `output`. */
export type TokenKind = 'input' | 'cached' | 'output' | 'reasoning';

export interface MeteredTokens {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

type TokenCells = Record<TokenKind, CounterCell>;

// Seconds: from a few ms (mock, cached answers) to minutes (long reasoning streams).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
// Gateway overhead is expected in milliseconds: finer at the low end.
const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: DeferredCounter;
  private readonly upstream: DeferredHistogram;
  private readonly overhead: DeferredHistogram;
  private readonly tokens: DeferredCounter;
  private readonly ledgerFailures: Counter;
  private readonly redisErrorCount: Counter;
  private readonly postgresErrorCount: Counter;
  private readonly requestCells = new Map<string, Map<string, Map<number, CounterCell>>>();
  private readonly callCells = new Map<string, { upstream: HistogramCell; overhead: HistogramCell }>();
  private readonly tokenCells = new Map<string, TokenCells>();
  private openHolds = 0;
  private queueStats: (() => Promise<StoreStats>) | null = null;

  constructor() {
    const registers = [this.registry];
    this.requests = new DeferredCounter({ name: 'tokengate_http_requests_total', help: 'HTTP requests by method, route pattern and status.', labelNames: ['method', 'route', 'status'], registers });
    this.upstream = new DeferredHistogram({
      name: 'tokengate_upstream_duration_seconds',
      help: 'Time the provider took for a metered call: until the whole answer (non-stream) or the end of the stream.',
      labelNames: ['provider'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.overhead = new DeferredHistogram({
      name: 'tokengate_gateway_overhead_seconds',
      help: 'Time a metered call spent in the gateway: total (request received to settled) minus upstream.',
      labelNames: ['provider'],
      buckets: OVERHEAD_BUCKETS,
      registers,
    });
    this.tokens = new DeferredCounter({ name: 'tokengate_tokens_metered_total', help: 'Provider tokens metered and billed, by model and kind (input excludes cached; reasoning is part of output).', labelNames: ['model', 'kind'], registers });
    this.ledgerFailures = new Counter({ name: 'tokengate_ledger_write_failures_total', help: 'Settlement writes (usage and ledger rows) that Postgres did not commit; they stay queued and are retried.', registers });
    this.redisErrorCount = new Counter({ name: 'tokengate_redis_errors_total', help: 'Redis connection errors and commands that gave up.', registers });
    this.postgresErrorCount = new Counter({ name: 'tokengate_postgres_errors_total', help: 'Postgres reads or writes that failed (connection errors, timeouts).', registers });
    const metrics = this;
    new Gauge({
      name: 'tokengate_holds_open',
      help: 'Holds taken by metered calls of this instance and not yet captured or voided.',
      registers,
      collect() {
        this.set(metrics.openHolds);
      },
    });
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
    // Keyed by method then route: the pair is a string only the first time a series is seen.
    let byRoute = this.requestCells.get(method);
    if (!byRoute) this.requestCells.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let cell = byStatus.get(status);
    if (!cell) byStatus.set(status, (cell = this.requests.cell({ method, route, status: String(status) })));
    cell.total += 1;
  }

  /** One metered call that reached the provider: its upstream time and the rest (both in ms). */
  call(provider: string, upstreamMs: number, totalMs: number): void {
    let cells = this.callCells.get(provider);
    if (!cells) this.callCells.set(provider, (cells = { upstream: this.upstream.cell({ provider }), overhead: this.overhead.cell({ provider }) }));
    cells.upstream.observe(upstreamMs / 1000);
    cells.overhead.observe(Math.max(0, totalMs - upstreamMs) / 1000);
  }

  tokensMetered(model: string, usage: MeteredTokens): void {
    let cells = this.tokenCells.get(model);
    if (!cells) {
      const cell = (kind: TokenKind) => this.tokens.cell({ model, kind });
      cells = { input: cell('input'), cached: cell('cached'), output: cell('output'), reasoning: cell('reasoning') };
      this.tokenCells.set(model, cells);
    }
    cells.input.total += usage.inputTokens - usage.cachedInputTokens;
    cells.cached.total += usage.cachedInputTokens;
    cells.output.total += usage.outputTokens;
    cells.reasoning.total += usage.reasoningTokens;
  }

  holdOpened(): void {
    this.openHolds += 1;
  }

  holdClosed(): void {
    this.openHolds -= 1;
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
