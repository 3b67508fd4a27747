/**
 * The express app of the API port: request ids, metrics, /health, /metrics, then whatever
 * routers later components mount, then the 404 and error handlers. Express stays here, at the
 * edge; nothing below sees `req`/`res`.
 */
import express, {
  type Express,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { Metrics } from '../observability/metrics';
import { acceptRequestId, openRequestScope } from '../observability/request-context';
import type { Logger } from '../observability/types';
import { errorHandler, notFound } from './errors-middleware';
import type { HealthService } from '../observability/health';

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

/** The request's id: on the response, in `res.locals.requestId`, and on every log line written
 * while the request is handled (its scope closes with the response). */
const requestId: RequestHandler = function requestId(req, res, next) {
  const id = assignRequestId(req, res);
  const scope: { close?: () => void } = {};
  // A long-lived response (an event stream) ends its log scope early through this, so that
  // the scope does not keep AsyncLocalStorage's hooks installed for as long as it is open.
  res.locals.endLogScope = () => scope.close?.();
  scope.close = openRequestScope(id, () => next());
  res.once('close', scope.close);
};

/**
 * The proxied routes (`/proxy/<url>`) get their id without a log scope: the pipeline threads
 * `ctx.requestId` through its own log lines, and an open scope would slow every request down
 * (see ../observability/request-context.ts).
 */
const proxiedRequestId: RequestHandler = function proxiedRequestId(req, res, next) {
  assignRequestId(req, res);
  next();
};

/** The caller's X-Request-Id when acceptable, else a fresh one: on the response and in locals. */
function assignRequestId(req: Request, res: Response): string {
  const id = acceptRequestId(req.get('x-request-id'));
  res.setHeader('X-Request-Id', id);
  res.locals.requestId = id;
  return id;
}

function timing(metrics: Metrics): RequestHandler {
  return function timing(req, res, next) {
    // Once per request, also when a raw router passes a request on to the rest of the app.
    if (res.locals.timed === true) return next();
    res.locals.timed = true;
    const end = metrics.httpRequestDuration.startTimer();
    res.once('finish', () => {
      // The route template, not the raw path, keeps the label set small.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ method: req.method, route, status_code: String(res.statusCode) });
    });
    next();
  };
}

/**
 * The API's own answers hold what agents chose (approval bodies, audit paths): no browser may
 * read one as anything but its declared type. Proxied answers (raw routers) keep the upstream's.
 */
const noSniff: RequestHandler = function noSniff(_req, res, next) {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
};

export function createApiApp(options: ApiAppOptions): Express {
  const { logger, metrics, health } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const timed = timing(metrics);
  // Mounted before the JSON parser: a proxied body must stream to the upstream untouched.
  for (const { path, router } of options.rawRouters ?? []) {
    app.use(path, proxiedRequestId, timed, router);
  }
  app.use(requestId, timed, noSniff);
  app.use(express.json({ limit: options.maxBodyBytes }));

  app.get('/health', async function getHealth(_req, res) {
    const report = await health.report();
    res.status(report.status === 'Unhealthy' ? 503 : 200).json(report);
  });

  if (metrics.enabled) {
    app.get('/metrics', async function getMetrics(_req, res) {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }

  for (const { path, router } of options.routers ?? []) app.use(path, router);

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
