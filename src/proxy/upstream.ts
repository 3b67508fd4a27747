/**
 * The upstream client (contract in src/http/upstream-client.ts): the only place Vectra dials out. The
 * pooled agents are ./upstream-agents.ts, the message heads and bodies ./upstream-messages.ts,
 * the mapping of Node's errors to GatewayErrors ./upstream-errors.ts.
 *
 * - Every request resolves its host through the SSRF guard; the connection goes to one of the
 *   addresses the guard checked: the pooled agent's `lookup` answers with them and nothing else.
 * - Agents are keyed by scheme, host, port AND the checked address set, so a pooled socket is
 *   only reused for the same origin at the same addresses (a rebinding answer gets a new agent).
 * - TLS is always verified (`rejectUnauthorized: true`) against the bundled roots plus
 *   System.Proxy.UpstreamCaFile, with the request's host as SNI and name to check.
 * - The Host header is always the request's host and port: the credential was chosen for that
 *   host, so a different Host must not route it to another virtual host behind the same address.
 * - Bodies stream with backpressure both ways and are counted against the size limits; nothing
 *   is buffered or decompressed, so server-sent events pass through as they arrive.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyConfig } from '../config/schema';
import { silentLogger, type Logger } from '../observability/types';
import type { ProxyRequest, UpstreamResponse, UpstreamUpgrade } from '../http/types';
import { bytesStream } from '../http/bytes-stream';
import { stripHopByHop } from '../http/hop-by-hop';
import { createSsrfGuard, type HostLookup } from './ssrf-guard';
import { createAgentPool } from './upstream-agents';
import {
  requestTooLarge,
  responseTooLarge,
  timedOut,
  toGatewayError,
  unreachable,
} from './upstream-errors';
import {
  byteLimit,
  declaredLength,
  declaresTooMuch,
  limitedBody,
  outgoingHeaders,
  readWhole,
  readsWhole,
  responseHeaders,
} from './upstream-messages';
import type { SendOptions, UpstreamClient } from '../http/upstream-client';

export interface UpstreamClientDeps {
  logger?: Logger;
  /** DNS for the SSRF guard (tests inject rebinding answers). */
  lookup?: HostLookup;
  /** Arms the response-head timeout; returns its cancel function (tests fire it by hand). */
  setTimer?: (fire: () => void, ms: number) => () => void;
}

const defaultTimer = (fire: () => void, ms: number): (() => void) => {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
};

export function createUpstreamClient(
  proxy: ProxyConfig,
  deps: UpstreamClientDeps = {},
): UpstreamClient {
  const logger = (deps.logger ?? silentLogger).child({ component: 'upstream' });
  const guard = createSsrfGuard({ allowlist: proxy.NetworkAllowlist, lookup: deps.lookup });
  const agents = createAgentPool(proxy.UpstreamCaFile);
  const setTimer = deps.setTimer ?? defaultTimer;
  const timeoutMs = proxy.UpstreamTimeoutSeconds * 1000;
  let closed = false;

  function exchange(
    request: ProxyRequest,
    upgrade: boolean,
    options: SendOptions = {},
  ): Promise<UpstreamResponse | UpstreamUpgrade> {
    const { signal, bufferUpTo } = options;
    if (closed) return Promise.reject(unreachable(request, 'the upstream client is closed'));
    const declared = declaredLength(request);
    if (declared !== undefined && declared > proxy.MaxRequestBodyBytes) {
      return Promise.reject(requestTooLarge(proxy.MaxRequestBodyBytes));
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      let current: ClientRequest | undefined;
      let bodyError: unknown;
      const cancelTimer = setTimer(() => fail(timedOut(request, proxy)), timeoutMs);
      const onAbort = () => fail(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      request.body?.on('error', (error) => {
        bodyError ??= error;
        fail(error);
        // Also after the head came back: a half-sent request must not linger upstream.
        current?.destroy();
      });

      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        cancelTimer();
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      function fail(error: unknown): void {
        if (!settle()) return;
        current?.destroy();
        // The caller's body is left unpiped, not destroyed: the entry adapter may still answer
        // (413, 502) on the client connection, and drains or closes it.
        request.body?.unpipe();
        if (signal?.aborted) return reject(signal.reason);
        const mapped = toGatewayError(error, request, bodyError);
        logger.debug('upstream request failed', { host: request.host, code: mapped.code });
        reject(mapped);
      }

      function attempt(addresses: string[], mayRetry: boolean): void {
        let req: ClientRequest;
        try {
          const options: HttpsRequestOptions = {
            agent: agents.agentFor(request, addresses),
            host: request.host,
            port: request.port,
            method: request.method,
            path: request.path,
            headers: outgoingHeaders(request, upgrade, declared),
            // No SNI for an IP literal; the certificate is then checked against the IP.
            servername: isIP(request.host) ? '' : request.host,
          };
          req = request.scheme === 'https' ? httpsRequest(options) : httpRequest(options);
        } catch (error) {
          return fail(error);
        }
        current = req;
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (settled) return;
          // A pooled socket the server closed meanwhile: retry once on a fresh one if nothing
          // of ours was consumed (no body).
          if (mayRetry && req.reusedSocket && error.code === 'ECONNRESET' && !request.body) {
            return attempt(addresses, false);
          }
          fail(error);
        });
        req.on('response', (res: IncomingMessage) => {
          if (settled) return void res.destroy();
          if (declaresTooMuch(request, res, proxy)) return fail(responseTooLarge(proxy));
          if (bufferUpTo !== undefined && readsWhole(request, res, bufferUpTo)) {
            // Read under the same timer and abort signal as the head.
            return readWhole(res, (error, bytes) => {
              if (error) return fail(error);
              if (!settle()) return;
              resolve({
                status: res.statusCode ?? 502,
                statusMessage: res.statusMessage,
                headers: stripHopByHop(responseHeaders(res)),
                body: bytesStream(bytes),
                bytes,
              });
            });
          }
          settle();
          resolve({
            status: res.statusCode ?? 502,
            statusMessage: res.statusMessage,
            headers: stripHopByHop(responseHeaders(res)),
            body: limitedBody(res, request, proxy, signal),
          });
        });
        if (upgrade) {
          req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
            if (!settle()) return void socket.destroy();
            // The pool's idle timeout no longer applies: the adapter owns this socket now.
            (socket as Socket).setTimeout(0);
            const headers = stripHopByHop(responseHeaders(res), { upgrade: true });
            resolve({ status: 101, headers, socket, head });
          });
        }
        if (!request.body) return void req.end();
        const limit = byteLimit(proxy.MaxRequestBodyBytes, () =>
          requestTooLarge(proxy.MaxRequestBodyBytes),
        );
        limit.once('error', fail);
        request.body.pipe(limit).pipe(req);
      }

      if (signal?.aborted) return fail(signal.reason);
      guard.resolve(request.host).then((addresses) => {
        if (settled) return;
        logger.trace('dialling checked address', { host: request.host, addresses });
        attempt(addresses, true);
      }, fail);
    });
  }

  return {
    send: (request, options = {}) => exchange(request, false, options) as Promise<UpstreamResponse>,
    upgrade: (request) => exchange(request, true),
    async close() {
      closed = true;
      agents.close();
    },
  };
}
