/**
 * Metrics for the request path: each series is a cell the caller keeps (looked up once per label
 * tuple), and recording is an addition to the cell's numbers. prom-client's own `inc(labels)` and
 * `observe(labels)` validate and hash the labels on every call; here prom-client sees the cells
 * only when /metrics is scraped.
 *
 * - `cellCounter` is a prom-client Counter whose `collect` hook hands each cell's increments since
 *   the last scrape to its series, one `inc` per series.
 * - `cellHistogram` is a histogram metric of its own, registered on the registry, that exposes its
 *   cells as prom-client's Histogram would (`_bucket` per bound and `+Inf`, `_sum`, `_count`).
 */
import { Counter, type Metric, type Registry } from 'prom-client';

/** One counter series: `inc` adds to a number, read at the next scrape. */
export class CounterCell {
  pending = 0;
  inc(amount = 1): void {
    this.pending += amount;
  }
}

export interface CellCounter {
  /** The cell of the series of `values` (in `labelNames` order); create it once, then keep it. */
  cell(...values: string[]): CounterCell;
  /** Shows the series of `values` at 0 before its first increment. */
  zero(...values: string[]): void;
}

export interface CellMetricConfig {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registry: Registry;
}

export function cellCounter(config: CellMetricConfig): CellCounter {
  const series: Array<{ cell: CounterCell; child: Counter.Internal }> = [];
  const counter = new Counter({
    name: config.name,
    help: config.help,
    labelNames: config.labelNames ?? [],
    registers: [config.registry],
    collect() {
      for (const { cell, child } of series) {
        if (cell.pending === 0) continue;
        child.inc(cell.pending);
        cell.pending = 0;
      }
    },
  });
  return {
    cell(...values) {
      const cell = new CounterCell();
      series.push({ cell, child: counter.labels(...values) });
      return cell;
    },
    zero(...values) {
      counter.labels(...values).inc(0);
    },
  };
}

/** One histogram series: counts per bucket (not cumulative), sum and count. */
export class HistogramCell {
  /** One slot per upper bound; a value above the last bound counts only in `count` (`+Inf`). */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export interface CellHistogram {
  /** The cell of the series of `values` (in `labelNames` order); create it once, then keep it. */
  cell(...values: string[]): HistogramCell;
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

/**
 * Read by the registry as prom-client reads its own metrics (`getForPromString` for the text
 * format, `get` for JSON). A labelled series appears once it has a value, as in prom-client; a
 * histogram without labels appears from the start.
 */
class CellHistogramMetric implements CellHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: Array<{ labels: Record<string, string>; cell: HistogramCell }> = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {}

  cell(...values: string[]): HistogramCell {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name}: expected ${this.labelNames.length} label values`);
    }
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => (labels[name] = values[i]));
    const cell = new HistogramCell(this.bounds);
    this.series.push({ labels, cell });
    return cell;
  }

  getForPromString() {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, cell } of this.series) {
      if (cell.count === 0 && this.labelNames.length > 0) continue;
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += cell.counts[i];
        values.push({
          labels: { le: bound },
          sharedLabels: labels,
          value: cumulative,
          metricName: bucket,
        });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: cell.count, metricName: bucket },
        { labels: {}, sharedLabels: labels, value: cell.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: cell.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }

  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, ...rest }) => ({
        ...rest,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }

  reset(): void {
    for (const { cell } of this.series) cell.reset();
  }
}

export function cellHistogram(
  config: CellMetricConfig & { buckets: readonly number[] },
): CellHistogram {
  const metric = new CellHistogramMetric(
    config.name,
    config.help,
    config.labelNames ?? [],
    [...config.buckets].sort((a, b) => a - b),
  );
  // Not one of prom-client's classes, but it answers what the registry asks of a metric.
  config.registry.registerMetric(metric as unknown as Metric);
  return metric;
}
