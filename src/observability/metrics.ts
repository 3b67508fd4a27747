/**
 * Prometheus metrics. Each gateway owns its registry (several gateways can run in one test
 * process); components register their own collectors on `registry`, which /metrics serves. The
 * proxied-request metrics are in ./proxy-metrics.ts (docs/observability.md).
 */
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { MetricsConfig } from '../config/schema';
import { createProxyMetrics, type ProxyMetrics } from './proxy-metrics';

export interface Metrics {
  /** Observability.Metrics.Enabled: when false, /metrics is not served. */
  readonly enabled: boolean;
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** Absent when metrics are disabled: the request path then records nothing. */
  readonly proxy: ProxyMetrics | undefined;
}

export interface MetricsOptions {
  /** Read on every scrape: the approvals pending now. */
  approvalsPending?: () => number;
}

const ENABLED: MetricsConfig = { Enabled: true, LabelVault: true, LabelService: true };

export function createMetrics(
  config: MetricsConfig = ENABLED,
  options: MetricsOptions = {},
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vectra_' });
  const httpRequestDuration = new Histogram({
    name: 'vectra_http_request_duration_seconds',
    help: 'Duration of API requests, by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const proxy = config.Enabled
    ? createProxyMetrics(registry, {
        labelVault: config.LabelVault,
        labelService: config.LabelService,
        approvalsPending: options.approvalsPending,
      })
    : undefined;
  return { enabled: config.Enabled, registry, httpRequestDuration, proxy };
}
