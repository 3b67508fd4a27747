/**
 * Bounds on slow clients (slowloris) for Node's HTTP servers: the time a client has to send a
 * request's header block (`headersTimeout`) and the whole request (`requestTimeout`); past
 * either the server answers 408 and closes the connection. Node enforces both on a timer every
 * `connectionsCheckingInterval` (30 s by default, which would let a 200 ms timeout run 30 s):
 * it is set to a quarter of the shorter timeout, at most one second, so a timeout is enforced at
 * most that much late. A server that never listens (the one requests inside CONNECT tunnels are
 * handed to) has to start that timer itself: trackConnections().
 */
import type { Server, ServerOptions } from 'node:http';
import { GatewayError } from '../errors';

export interface HttpTimeoutConfig {
  HeadersTimeoutMilliseconds: number;
  RequestTimeoutMilliseconds: number;
}

export type HttpTimeoutOptions = Required<
  Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>
>;

/** The createServer options for `config`, the settings at `key` (System.Server or System.Proxy). */
export function httpTimeoutOptions(
  config: HttpTimeoutConfig,
  key: 'System.Server' | 'System.Proxy',
): HttpTimeoutOptions {
  const headers = config.HeadersTimeoutMilliseconds;
  const request = config.RequestTimeoutMilliseconds;
  if (headers > request) {
    // Node refuses it too (ERR_OUT_OF_RANGE); said here with the keys to change.
    throw new GatewayError(
      'VEC_CONFIG_INVALID',
      `${key}.HeadersTimeoutMilliseconds (${headers}) must not exceed ${key}.RequestTimeoutMilliseconds (${request}).`,
      {
        context: {
          key: `${key}.HeadersTimeoutMilliseconds`,
          envVar: `${key.replace('.', '__')}__HeadersTimeoutMilliseconds`,
        },
      },
    );
  }
  return {
    headersTimeout: headers,
    requestTimeout: request,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headers / 4))),
  };
}

/**
 * Starts Node's connection tracking on a server that is handed its sockets instead of listening
 * (Node starts it on 'listening'): without it no header or request timeout is checked there, and
 * closeIdleConnections() finds no connection to close. Stopped by the server's close().
 */
export function trackConnections(server: Server): void {
  server.emit('listening');
}
