/**
 * The seed gateway's reverse route on the API port: `ANY /proxy/<absolute-url>` with
 * `Authorization: Bearer <agent or session token>` and an optional `X-Vault`. The agent's own
 * Authorization header is consumed here and never forwarded; the same pipeline runs.
 */
import type { Request, RequestHandler, Response } from 'express';
import { GatewayError, isGatewayError } from '../errors';
import { parseAbsoluteForm, type AbsoluteTarget } from '../http/request-target';
import { hostHeader } from '../http/authority';
import {
  contentLengthOf,
  hasBody,
  headerMap,
  runExchange,
  writeRefusal,
  type ExchangeDeps,
} from '../proxy/exchange';

export const REVERSE_ROUTE_PREFIX = '/proxy/';

/**
 * The absolute URL after the prefix, parsed into the canonical target; undefined when it is not
 * an http(s) URL, VEC_REQUEST_INVALID when it is one that is invalid.
 */
function targetOf(originalUrl: string): AbsoluteTarget | GatewayError | undefined {
  // Some clients collapse `//` in paths: accept `https:/host/...` too.
  const raw = originalUrl.slice(REVERSE_ROUTE_PREFIX.length).replace(/^(https?):\/+/i, '$1://');
  try {
    return parseAbsoluteForm(raw);
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
}

export function reverseRoute(deps: ExchangeDeps): RequestHandler {
  return function reverseProxy(req: Request, res: Response) {
    const target = targetOf(req.originalUrl);
    if (!target || isGatewayError(target)) {
      req.resume();
      writeRefusal(
        res,
        target ??
          new GatewayError(
            'VEC_REQUEST_MALFORMED',
            'Use /proxy/<absolute http(s) URL>, e.g. /proxy/https://api.example.com/v1/items.',
          ),
        'reverse',
      );
      return;
    }
    const headers = headerMap(req);
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(String(headers.authorization ?? ''));
    const vault = typeof headers['x-vault'] === 'string' ? headers['x-vault'] : undefined;
    // The agent's credential for Vectra is consumed here: it must never reach the upstream.
    delete headers.authorization;
    delete headers['x-vault'];
    headers.host = hostHeader(target);
    void runExchange(
      deps,
      {
        entry: 'reverse',
        credentials: { token: match?.[1], vault },
        requestId: typeof res.locals.requestId === 'string' ? res.locals.requestId : undefined,
        request: {
          method: req.method,
          scheme: target.scheme,
          host: target.host,
          port: target.port,
          path: `${target.path}${target.query}`,
          headers,
          body: hasBody(req) ? req : undefined,
          contentLength: contentLengthOf(req),
          upgrade: false,
        },
      },
      { req, res },
    );
  };
}
