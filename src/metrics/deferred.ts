// Metric series the request path updates as plain numbers, handed to prom-client only when scraped.
// prom-client hashes the labels and builds objects on every inc() and observe(), even through a child
// from labels(); here a request adds to numbers in cells it looked up once per series (a few map
// lookups, no allocation), and the scrape pays the rest.
import { Counter, Histogram, type Registry } from 'prom-client';

/** One counter series: the hot path adds to `total`. */
export interface CounterCell {
  total: number;
}

interface CounterSeries extends CounterCell {
  reported: number;
  labels: Record<string, string>;
}

/** A prom-client counter fed at scrape time from cells. */
export class DeferredCounter {
  private readonly series: CounterSeries[] = [];

  constructor(config: { name: string; help: string; labelNames: readonly string[]; registers: Registry[] }) {
    const series = this.series;
    new Counter({
      ...config,
      collect() {
        for (const cell of series) {
          if (cell.total > cell.reported) this.inc(cell.labels, cell.total - cell.reported);
          cell.reported = cell.total;
        }
      },
    });
  }

  /** A new series; call once per label set and keep the cell. */
  cell(labels: Record<string, string>): CounterCell {
    const cell: CounterSeries = { total: 0, reported: 0, labels };
    this.series.push(cell);
    return cell;
  }
}

/** One histogram series: counts per bucket (not cumulative; the last is +Inf), sum and count. */
export class HistogramCell {
  sum = 0;
  count = 0;
  readonly counts: Float64Array;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Record<string, string>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

type Sample = { value: number; labels: Record<string, string | number>; metricName: string };

/**
 * A prom-client histogram whose values come from HistogramCells: registered, named and typed by
 * prom-client, but its series are exposed from the cells (cumulative buckets, `_sum`, `_count`).
 */
export class DeferredHistogram extends Histogram<string> {
  private readonly cells: HistogramCell[] = [];

  constructor(
    private readonly config: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[]; registers: Registry[] },
  ) {
    super({ ...config, buckets: [...config.buckets] });
  }

  cell(labels: Record<string, string>): HistogramCell {
    const cell = new HistogramCell(this.config.buckets, labels);
    this.cells.push(cell);
    return cell;
  }

  private samples(): Sample[] {
    const out: Sample[] = [];
    for (const cell of this.cells) {
      let cumulative = 0;
      for (let i = 0; i <= this.config.buckets.length; i++) {
        cumulative += cell.counts[i]!;
        out.push({ metricName: `${this.config.name}_bucket`, labels: { ...cell.labels, le: i < this.config.buckets.length ? this.config.buckets[i]! : '+Inf' }, value: cumulative });
      }
      out.push({ metricName: `${this.config.name}_sum`, labels: cell.labels, value: cell.sum });
      out.push({ metricName: `${this.config.name}_count`, labels: cell.labels, value: cell.count });
    }
    return out;
  }

  /**
   * What the registry reads for the text format, and what prom-client's own get() (JSON) reads too:
   * the series from the cells instead of prom-client's map.
   */
  async getForPromString() {
    return { name: this.config.name, help: this.config.help, type: 'histogram', aggregator: 'sum', values: this.samples() };
  }
}
