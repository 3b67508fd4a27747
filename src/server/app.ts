/**
 * The express app of the API port: request ids, metrics, /health, /metrics, then whatever
 * routers later components mount, then the 404 and error handlers. Express stays here, at the
 * edge; nothing below sees `req`/`res`.
 */
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Metrics } from '../observability/metrics';
import { acceptRequestId, runWithRequestId } from '../observability/request-context';
import type { Logger } from '../observability/types';
import { errorHandler, notFound } from './errors-middleware';
import type { HealthService } from './health';

export interface ApiAppOptions {
  logger: Logger;
  metrics: Metrics;
  health: HealthService;
  maxBodyBytes: number;
  /** Handlers that read the raw request body themselves (the reverse proxy route), by path prefix. */
  rawRouters?: Array<{ path: string; router: Router | RequestHandler }>;
  /** Routers mounted after /health and /metrics (admin API, discover, UI, …). */
  routers?: Array<{ path: string; router: Router | RequestHandler }>;
}

const requestId: RequestHandler = function requestId(req, res, next) {
  const id = acceptRequestId(req.get('x-request-id'));
  res.setHeader('X-Request-Id', id);
  runWithRequestId(id, () => next());
};

function timing(metrics: Metrics): RequestHandler {
  return function timing(req, res, next) {
    const end = metrics.httpRequestDuration.startTimer();
    res.once('finish', () => {
      // The route template, not the raw path, keeps the label set small.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ method: req.method, route, status_code: String(res.statusCode) });
    });
    next();
  };
}

export function createApiApp(options: ApiAppOptions): Express {
  const { logger, metrics, health } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestId, timing(metrics));
  // Mounted before the JSON parser: a proxied body must stream to the upstream untouched.
  for (const { path, router } of options.rawRouters ?? []) app.use(path, router);
  app.use(express.json({ limit: options.maxBodyBytes }));

  app.get('/health', async function getHealth(_req, res) {
    const report = await health.report();
    res.status(report.status === 'Unhealthy' ? 503 : 200).json(report);
  });

  app.get('/metrics', async function getMetrics(_req, res) {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  for (const { path, router } of options.routers ?? []) app.use(path, router);

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
