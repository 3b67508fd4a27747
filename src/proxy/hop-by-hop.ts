/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: a proxy must
 * not forward them, nor any header the Connection header names. Vectra's own `x-vectra-*`
 * headers are dropped too: on the way up they must not reach the upstream, and on the way down
 * an upstream must not be able to pose as the gateway (agents trust `X-Vectra-Error`).
 * Used on requests before they are sent and on responses before they are returned.
 */
import type { HeaderMap } from '../pipeline/types';

export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const VECTRA_PREFIX = 'x-vectra-';

export interface StripOptions {
  /**
   * Forwarding a protocol upgrade (WebSocket): keep `Upgrade` and answer it with
   * `Connection: Upgrade`, which the upgrade handshake needs on both sides.
   */
  upgrade?: boolean;
}

/** A copy of `headers` (names lower-cased) without hop-by-hop and Vectra headers. */
export function stripHopByHop(headers: HeaderMap, options: StripOptions = {}): HeaderMap {
  const named = connectionTokens(headers);
  const result: HeaderMap = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (name.startsWith(VECTRA_PREFIX)) continue;
    if (options.upgrade && name === 'upgrade') {
      result[name] = value;
      continue;
    }
    if (HOP_BY_HOP_HEADERS.has(name) || named.has(name)) continue;
    result[name] = value;
  }
  if (options.upgrade && result.upgrade !== undefined) result.connection = 'Upgrade';
  return result;
}

/** Lower-case header names listed in every Connection header value. */
function connectionTokens(headers: HeaderMap): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const line of Array.isArray(value) ? value : [value]) {
      for (const token of line.split(',')) {
        const trimmed = token.trim().toLowerCase();
        if (trimmed) tokens.add(trimmed);
      }
    }
  }
  return tokens;
}
