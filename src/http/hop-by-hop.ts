/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: a proxy must
 * not forward them, nor any header the Connection header names. Vectra's own `x-vectra-*`
 * headers are dropped too: on the way up they must not reach the upstream, and on the way down
 * an upstream must not be able to pose as the gateway (agents trust `X-Vectra-Error`).
 * Used on requests before they are sent and on responses before they are returned.
 */
import type { HeaderMap } from './types';

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
  // Runs several times per proxied request: one pass, and the Connection header parsed only
  // when there is one.
  const named = connectionTokens(headers);
  const upgrade = options.upgrade === true;
  const result: HeaderMap = {};
  for (const rawName in headers) {
    if (!Object.hasOwn(headers, rawName)) continue;
    const value = headers[rawName];
    const name = isLowerCase(rawName) ? rawName : rawName.toLowerCase();
    if (name.startsWith(VECTRA_PREFIX) || name === '__proto__') continue;
    if (upgrade && name === 'upgrade') {
      result[name] = value;
      continue;
    }
    if (HOP_BY_HOP_HEADERS.has(name) || (named !== undefined && named.has(name))) continue;
    result[name] = value;
  }
  if (upgrade && result.upgrade !== undefined) result.connection = 'Upgrade';
  return result;
}

/** Lower-case header names listed in every Connection header value; undefined when none. */
function connectionTokens(headers: HeaderMap): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const value = headers[name];
    for (const line of Array.isArray(value) ? value : [value]) {
      if (typeof line !== 'string') continue;
      for (const token of line.split(',')) {
        const trimmed = token.trim().toLowerCase();
        // `keep-alive`, `upgrade`: dropped anyway, so the usual value needs no set.
        if (trimmed && !HOP_BY_HOP_HEADERS.has(trimmed)) {
          (tokens ??= new Set()).add(trimmed);
        }
      }
    }
  }
  return tokens;
}

/** True when `name` has no upper-case ASCII letter (Node hands over lower-case names). */
function isLowerCase(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 65 && code <= 90) return false;
  }
  return true;
}
