/**
 * Prometheus metrics. Each gateway owns its registry (several gateways can run in one test
 * process); components register their own collectors on `registry`.
 */
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vectra_' });
  const httpRequestDuration = new Histogram({
    name: 'vectra_http_request_duration_seconds',
    help: 'Duration of API requests, by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, httpRequestDuration };
}
