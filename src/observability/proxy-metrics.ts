/**
 * Metrics of proxied requests, on the gateway's served registry (docs/observability.md): one
 * counter per outcome, the upstream's and the gateway's own share of the latency, bytes, open
 * tunnels, leaf certificates, policy evaluation time and pending approvals.
 *
 * Written for the request path: the series of every (vault, service, code, decision, entry) are
 * cells (./metric-cells.ts) created once and looked up in nested Maps, so a request builds no
 * label object or key of its own and records by adding to numbers; prom-client reads the cells
 * at scrape time. Label values stay bounded: vaults and services are what the configuration holds
 * (or `*` when labelling by them is off), codes are the registry's.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ERROR_CODES } from '../errors';
import { cellCounter, cellHistogram, type CounterCell, type HistogramCell } from './metric-cells';

export type DecisionLabel = 'allow' | 'deny' | 'hitl' | 'abort';
export type EntryLabel = 'forward' | 'tunnel' | 'reverse';

/** The labels of one finished exchange, as its log line names them too. */
export interface ExchangeLabels {
  /** The vault, or `(none)` before one was settled. */
  vault: string;
  /** The service, `(unmatched)` for passthrough, or `(none)` before one was resolved. */
  service: string;
  decision: DecisionLabel;
  /** The VEC_* code, or `none`. */
  code: string;
  entry: EntryLabel;
}

export interface ExchangeMeasures {
  bytesIn: number;
  bytesOut: number;
  /** From the upstream call to its answer's head; absent when no upstream answered. */
  upstreamMs?: number;
  /** Arrival to decision, less the upstream's time and any hold; absent when never decided. */
  addedMs?: number;
}

export interface ProxyMetrics {
  exchange(labels: ExchangeLabels, measures: ExchangeMeasures): void;
  tunnelOpened(): void;
  tunnelClosed(): void;
  leafCertificate(source: 'cache' | 'minted'): void;
  policyEvaluation(seconds: number): void;
}

export interface ProxyMetricsOptions {
  /** Observability.Metrics.LabelVault: false puts `*` in the vault label. */
  labelVault: boolean;
  /** Observability.Metrics.LabelService: false puts `*` in the service label. */
  labelService: boolean;
  /** Read on every scrape: the approvals pending now (kept in memory, never a query). */
  approvalsPending?: () => number;
}

export const ALL = '*';
const DECISIONS: readonly DecisionLabel[] = ['allow', 'deny', 'hitl', 'abort'];
const ENTRIES: readonly EntryLabel[] = ['forward', 'tunnel', 'reverse'];
const DECISION_INDEX: Record<DecisionLabel, number> = { allow: 0, deny: 1, hitl: 2, abort: 3 };
const ENTRY_INDEX: Record<EntryLabel, number> = { forward: 0, tunnel: 1, reverse: 2 };

/** A code outside the registry (a Node error code on a broken stream) is one value: `other`. */
export function codeLabel(code: string | undefined): string {
  if (code === undefined) return 'none';
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code) ? code : 'other';
}

interface ServiceSeries {
  upstream: HistogramCell;
  /** By code: the counters of every decision × entry, created on first use. */
  requests: Map<string, Array<CounterCell | undefined>>;
}

export function createProxyMetrics(registry: Registry, options: ProxyMetricsOptions): ProxyMetrics {
  const requests = cellCounter({
    name: 'vectra_proxy_requests_total',
    help: 'Proxied requests by outcome: decision allow|deny|hitl|abort, the VEC_* code or none, entry forward|tunnel|reverse.',
    labelNames: ['vault', 'service', 'decision', 'code', 'entry'],
    registry,
  });
  const upstream = cellHistogram({
    name: 'vectra_proxy_upstream_duration_seconds',
    help: "Time from sending a proxied request upstream to the upstream answer's head.",
    labelNames: ['vault', 'service'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry,
  });
  const added = cellHistogram({
    name: 'vectra_proxy_added_duration_seconds',
    help: "The gateway's own share of a proxied request: arrival to decision, less the upstream call and any wait for a human.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registry,
  }).cell();
  const bytes = cellCounter({
    name: 'vectra_proxy_bytes_total',
    help: 'Body bytes of proxied requests: in from agents, out to agents.',
    labelNames: ['direction'],
    registry,
  });
  const tunnels = new Gauge({
    name: 'vectra_proxy_tunnels_open',
    help: 'CONNECT tunnels open now.',
    registers: [registry],
  });
  const leaves = new Counter<'source'>({
    name: 'vectra_leaf_certificates_total',
    help: 'Leaf certificates handed to tunnels: from the cache, or minted.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const policy = cellHistogram({
    name: 'vectra_policy_evaluation_seconds',
    help: 'Time the policy engine took to judge one reading of a request.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registry,
  }).cell();
  const { approvalsPending } = options;
  new Gauge({
    name: 'vectra_approvals_pending',
    help: 'Approvals waiting for a human decision (all replicas).',
    registers: [registry],
    collect() {
      this.set(approvalsPending?.() ?? 0);
    },
  });

  const bytesIn = bytes.cell('in');
  const bytesOut = bytes.cell('out');
  const fromCache = leaves.labels('cache');
  const minted = leaves.labels('minted');
  // Every series at 0 from the start, so rate() and absent() see them before the first event.
  bytes.zero('in');
  bytes.zero('out');
  fromCache.inc(0);
  minted.inc(0);

  const byVault = new Map<string, Map<string, ServiceSeries>>();
  function seriesOf(vault: string, service: string): ServiceSeries {
    let services = byVault.get(vault);
    if (!services) byVault.set(vault, (services = new Map()));
    let series = services.get(service);
    if (!series) {
      series = { upstream: upstream.cell(vault, service), requests: new Map() };
      services.set(service, series);
    }
    return series;
  }

  return {
    exchange(labels, measures) {
      const vault = options.labelVault ? labels.vault : ALL;
      const service = options.labelService ? labels.service : ALL;
      const series = seriesOf(vault, service);
      let byCode = series.requests.get(labels.code);
      if (!byCode) series.requests.set(labels.code, (byCode = []));
      const index = DECISION_INDEX[labels.decision] * ENTRIES.length + ENTRY_INDEX[labels.entry];
      let counter = byCode[index];
      if (!counter) {
        counter = requests.cell(
          vault,
          service,
          DECISIONS[DECISION_INDEX[labels.decision]],
          labels.code,
          labels.entry,
        );
        byCode[index] = counter;
      }
      counter.inc();
      if (measures.bytesIn > 0) bytesIn.inc(measures.bytesIn);
      if (measures.bytesOut > 0) bytesOut.inc(measures.bytesOut);
      if (measures.upstreamMs !== undefined) series.upstream.observe(measures.upstreamMs / 1000);
      if (measures.addedMs !== undefined) added.observe(Math.max(0, measures.addedMs) / 1000);
    },
    tunnelOpened: () => tunnels.inc(),
    tunnelClosed: () => tunnels.dec(),
    leafCertificate: (source) => (source === 'cache' ? fromCache : minted).inc(),
    policyEvaluation: (seconds) => policy.observe(seconds),
  };
}
