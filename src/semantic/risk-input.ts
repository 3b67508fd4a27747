/**
 * A request as risk scoring reads it, from the pipeline or described in a dry run: the same
 * RiskInput either way, so a dry run scores what the gateway would.
 */
import { hostHeader } from '../http/authority';
import type { ProxyRequest } from '../http/types';
import type { RiskInput } from './types';

/** A request as risk scoring reads it: from the pipeline, or described in a dry run. */
export type ScoredRequest = Pick<
  ProxyRequest,
  'method' | 'scheme' | 'host' | 'port' | 'path' | 'headers' | 'contentLength'
>;

export function riskInputFrom(
  request: ScoredRequest,
  bodyText: string | undefined,
  agent: string | undefined,
): RiskInput {
  const { headers } = request;
  // Header names should be lower-case already; a case-insensitive look costs nothing.
  const name = Object.keys(headers).find((h) => h.toLowerCase() === 'content-type');
  const type = name === undefined ? undefined : headers[name];
  const contentType = (Array.isArray(type) ? type[0] : type)?.split(';')[0].trim().toLowerCase();
  const bodySize =
    request.contentLength ?? (bodyText === undefined ? undefined : Buffer.byteLength(bodyText));
  return {
    method: request.method,
    host: hostHeader(request),
    path: request.path,
    ...(contentType ? { contentType } : {}),
    ...(bodySize === undefined ? {} : { bodySize }),
    ...(bodyText === undefined ? {} : { bodyText }),
    ...(agent === undefined ? {} : { agent }),
  };
}
