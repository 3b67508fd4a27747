/** Turns errors and unmatched routes into the wire format from src/errors.ts. */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { GatewayError, isGatewayError } from '../errors';
import type { Logger } from '../observability/types';

export function sendError(res: Response, error: GatewayError): void {
  res.setHeader('X-Vectra-Error', error.code);
  if (error.statusCode === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="vectra"');
  const retryAfter = error.context.retryAfter;
  if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(Math.ceil(retryAfter)));
  res.status(error.statusCode).json(error.toJSON());
}

export const notFound: RequestHandler = function notFound(req, _res, next) {
  next(new GatewayError('VEC_ROUTE_NOT_FOUND', `No route for ${req.method} ${req.path}.`));
};

/** body-parser errors carry a `type`; map the ones a client causes to 4xx codes. */
function fromBodyParser(err: { type?: string; limit?: number }): GatewayError | undefined {
  if (err.type === 'entity.parse.failed') {
    return new GatewayError('VEC_REQUEST_MALFORMED', 'The request body is not valid JSON.');
  }
  if (err.type === 'entity.too.large') {
    return new GatewayError(
      'VEC_REQUEST_TOO_LARGE',
      `The request body exceeds the limit of ${err.limit ?? 'unknown'} bytes.`,
      { context: { limit: err.limit } },
    );
  }
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return new GatewayError(
      'VEC_REQUEST_MALFORMED',
      'The request body has an unsupported encoding.',
    );
  }
  return undefined;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return function handleError(err: unknown, req, res, next) {
    if (res.headersSent) {
      next(err);
      return;
    }
    let error = isGatewayError(err) ? err : fromBodyParser(err as { type?: string });
    if (!error) {
      logger.error('unhandled error in API request', {
        err,
        method: req.method,
        path: req.path,
        requestId: res.locals.requestId,
      });
      error = new GatewayError('VEC_INTERNAL_ERROR');
    } else if (error.statusCode >= 500) {
      logger.error(error.message, {
        code: error.code,
        method: req.method,
        path: req.path,
        requestId: res.locals.requestId,
      });
    } else {
      logger.info(`request refused: ${error.message}`, {
        code: error.code,
        method: req.method,
        path: req.path,
        requestId: res.locals.requestId,
      });
    }
    sendError(res, error);
  };
}
