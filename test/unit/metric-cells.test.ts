/**
 * The request path's metric cells expose exactly what prom-client's own Counter and Histogram
 * expose for the same updates: the same text, line for line, on the same registry format.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { cellCounter, cellHistogram } from '../../src/observability/metric-cells';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const OBSERVED = [0.001, 0.005, 0.0051, 0.07, 0.3, 0.3, 0.99, 1, 1.5, 42];

/** What a JSON consumer reads of a metric: its name, type, and each value's labels and number. */
function asJson(metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) {
  return metrics.map(({ name, help, type, values }) => ({
    name,
    help,
    type,
    values: values.map((value) => ({
      metricName: (value as { metricName?: string }).metricName,
      labels: value.labels,
      value: value.value,
    })),
  }));
}

describe('metric cells', () => {
  it('expose a labelled histogram as prom-client does', async () => {
    const reference = new Registry();
    const histogram = new Histogram({
      name: 'h_seconds',
      help: 'A histogram.',
      labelNames: ['vault', 'service'],
      buckets: BUCKETS,
      registers: [reference],
    });
    const cells = new Registry();
    const fast = cellHistogram({
      name: 'h_seconds',
      help: 'A histogram.',
      labelNames: ['vault', 'service'],
      buckets: BUCKETS,
      registry: cells,
    });
    const shop = fast.cell('shop', 'plain');
    const other = fast.cell('other', 'x"y');
    fast.cell('unused', 'never observed');
    for (const value of OBSERVED) {
      histogram.observe({ vault: 'shop', service: 'plain' }, value);
      shop.observe(value);
    }
    histogram.observe({ vault: 'other', service: 'x"y' }, 0.02);
    other.observe(0.02);

    expect(await cells.metrics()).toBe(await reference.metrics());
    expect(asJson(await cells.getMetricsAsJSON())).toEqual(
      asJson(await reference.getMetricsAsJSON()),
    );
  });

  it('expose a histogram without labels from the start, as prom-client does', async () => {
    const reference = new Registry();
    const histogram = new Histogram({
      name: 'added_seconds',
      help: 'No labels.',
      buckets: BUCKETS,
      registers: [reference],
    });
    const cells = new Registry();
    const added = cellHistogram({
      name: 'added_seconds',
      help: 'No labels.',
      buckets: BUCKETS,
      registry: cells,
    }).cell();
    expect(await cells.metrics()).toBe(await reference.metrics());
    histogram.observe(0.2);
    added.observe(0.2);
    expect(await cells.metrics()).toBe(await reference.metrics());
  });

  it('hand counter increments to prom-client at each scrape', async () => {
    const reference = new Registry();
    const counter = new Counter({
      name: 'c_total',
      help: 'A counter.',
      labelNames: ['decision', 'code'],
      registers: [reference],
    });
    const cells = new Registry();
    const fast = cellCounter({
      name: 'c_total',
      help: 'A counter.',
      labelNames: ['decision', 'code'],
      registry: cells,
    });
    const allow = fast.cell('allow', 'none');
    const deny = fast.cell('deny', 'VEC_POLICY_DENIED');
    fast.zero('abort', 'none');
    counter.inc({ decision: 'abort', code: 'none' }, 0);

    allow.inc();
    allow.inc();
    counter.inc({ decision: 'allow', code: 'none' }, 2);
    expect(await cells.metrics()).toBe(await reference.metrics());

    // Increments after a scrape are added to what was handed over, never counted twice.
    deny.inc();
    allow.inc(3);
    counter.inc({ decision: 'deny', code: 'VEC_POLICY_DENIED' });
    counter.inc({ decision: 'allow', code: 'none' }, 3);
    expect(await cells.metrics()).toBe(await reference.metrics());
    expect(await cells.metrics()).toBe(await reference.metrics());
  });
});
