/**
 * The seed gateway's reverse route on the API port: `ANY /proxy/<absolute-url>` with
 * `Authorization: Bearer <agent or session token>` and an optional `X-Vault`. The agent's own
 * Authorization header is consumed here and never forwarded; the same pipeline runs.
 */
import type { Request, RequestHandler, Response } from 'express';
import { GatewayError } from '../errors';
import { parseAuthority } from '../proxy/authority';
import {
  contentLengthOf,
  hasBody,
  headerMap,
  runExchange,
  writeRefusal,
  type ExchangeDeps,
} from '../proxy/exchange';

export const REVERSE_ROUTE_PREFIX = '/proxy/';

function targetOf(originalUrl: string): URL | undefined {
  // Some clients collapse `//` in paths: accept `https:/host/...` too.
  const raw = originalUrl.slice(REVERSE_ROUTE_PREFIX.length).replace(/^(https?):\/+/i, '$1://');
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

export function reverseRoute(deps: ExchangeDeps): RequestHandler {
  return function reverseProxy(req: Request, res: Response) {
    const target = targetOf(req.originalUrl);
    const authority =
      target && parseAuthority(target.host, target.protocol === 'https:' ? 443 : 80);
    if (!target || !authority) {
      req.resume();
      writeRefusal(
        res,
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
    headers.host = target.host;
    void runExchange(
      deps,
      {
        entry: 'reverse',
        credentials: { token: match?.[1], vault },
        requestId: typeof res.locals.requestId === 'string' ? res.locals.requestId : undefined,
        request: {
          method: req.method,
          scheme: target.protocol === 'https:' ? 'https' : 'http',
          host: authority.host,
          port: authority.port,
          path: `${target.pathname}${target.search}`,
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
