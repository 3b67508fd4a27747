/** The upstream client contract used by the `forward` stage (implemented in src/proxy/upstream.ts). */
import type { ProxyRequest, UpstreamResponse, UpstreamUpgrade } from './types';

/**
 * What the upstream client needs of a cancellation: an AbortSignal is one, and so is a
 * request's RequestCancellation (./cancellation.ts). A cancelled call rejects with
 * the signal's `reason`.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface SendOptions {
  signal?: CancelSignal;
  /**
   * Read a body that declares a Content-Length of at most this many bytes (plain, not an event
   * stream) whole before resolving, and hand it over as `bytes` as well as `body`. For callers
   * that would read it whole anyway (echo redaction): one buffer instead of a chain of streams.
   */
  bufferUpTo?: number;
  /**
   * The vault the call is made for: the circuit breaker counts it against that vault's circuit
   * for the origin (System.CircuitBreaker.Scope). The upstream client itself does not read it.
   */
  vault?: string;
}

export interface UpstreamClient {
  /**
   * Sends `request` to its host: the address is resolved and every resolved address checked by
   * the SSRF guard, then the checked address is dialled (no second lookup); TLS is verified
   * against the system roots plus System.Proxy.UpstreamCaFile with the request's host as SNI
   * and name to check; connections are pooled with keep-alive per origin. Resolves with the
   * response head; the body streams with backpressure. Redirects are returned, never followed.
   * Errors are GatewayErrors: VEC_UPSTREAM_BLOCKED, VEC_UPSTREAM_UNREACHABLE,
   * VEC_UPSTREAM_TLS_INVALID, VEC_UPSTREAM_TIMEOUT, VEC_RESPONSE_TOO_LARGE, VEC_REQUEST_TOO_LARGE.
   */
  send(request: ProxyRequest, options?: SendOptions): Promise<UpstreamResponse>;
  /** Same checks for an Upgrade request; resolves with the upgraded socket, or a plain response when the upstream refused. */
  upgrade(
    request: ProxyRequest,
    options?: Pick<SendOptions, 'vault'>,
  ): Promise<UpstreamUpgrade | UpstreamResponse>;
  close(): Promise<void>;
}
