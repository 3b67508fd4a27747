/**
 * The upstream client (contract in src/http/upstream-client.ts): the only place Vectra dials out.
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
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import {
  Agent as HttpsAgent,
  request as httpsRequest,
  type RequestOptions as HttpsRequestOptions,
} from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { Transform, type Duplex, type Readable } from 'node:stream';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { ProxyConfig } from '../config/schema';
import { ConfigError, GatewayError, isGatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import type { HeaderMap, ProxyRequest, UpstreamResponse, UpstreamUpgrade } from '../http/types';
import { hostHeader } from '../http/authority';
import { bytesStream } from '../http/bytes-stream';
import { isEventStream, responseHasNoBody } from '../http/message-body';
import { stripHopByHop } from '../http/hop-by-hop';
import { createSsrfGuard, type HostLookup } from './ssrf-guard';
import type { CancelSignal, SendOptions, UpstreamClient } from '../http/upstream-client';

export interface UpstreamClientDeps {
  logger?: Logger;
  /** DNS for the SSRF guard (tests inject rebinding answers). */
  lookup?: HostLookup;
  /** Arms the response-head timeout; returns its cancel function (tests fire it by hand). */
  setTimer?: (fire: () => void, ms: number) => () => void;
}

const CA_FILE_KEY = 'System.Proxy.UpstreamCaFile';
/** Per origin and address set: enough for a busy agent, bounded against a runaway one. */
const MAX_SOCKETS = 256;
const MAX_FREE_SOCKETS = 64;
/** Pooled sockets idle this long are closed (Node also honours the server's Keep-Alive hint). */
const IDLE_SOCKET_MS = 30_000;
const CERT_ERROR =
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED)/;
const MALFORMED = new Set([
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_UNESCAPED_CHARACTERS',
]);

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
  const secureContext = loadSecureContext(proxy.UpstreamCaFile);
  const setTimer = deps.setTimer ?? defaultTimer;
  const timeoutMs = proxy.UpstreamTimeoutSeconds * 1000;
  const agents = new Map<string, HttpAgent>();
  let closed = false;

  function agentFor(request: ProxyRequest, addresses: string[]): HttpAgent {
    const key = `${request.scheme}://${request.host}:${request.port}@${addresses.join(',')}`;
    const existing = agents.get(key);
    if (existing) return existing;
    for (const [otherKey, agent] of agents) {
      if (isIdle(agent)) {
        agent.destroy();
        agents.delete(otherKey);
      }
    }
    const options = {
      keepAlive: true,
      maxSockets: MAX_SOCKETS,
      maxFreeSockets: MAX_FREE_SOCKETS,
      timeout: IDLE_SOCKET_MS,
      lookup: checkedLookup(addresses),
    };
    const agent =
      request.scheme === 'https'
        ? new HttpsAgent({ ...options, secureContext, rejectUnauthorized: true })
        : new HttpAgent(options);
    agents.set(key, agent);
    return agent;
  }

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
            agent: agentFor(request, addresses),
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
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

/** Bundled roots plus the PEMs of System.Proxy.UpstreamCaFile, built once for every agent. */
function loadSecureContext(caFile: string): SecureContext | undefined {
  // No extra CA: Node's default context (bundled roots, NODE_EXTRA_CA_CERTS) applies.
  if (!caFile) return undefined;
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw caProblem(caFile, `cannot be read (${code})`);
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw caProblem(caFile, 'holds no PEM certificate');
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch {
      throw caProblem(caFile, 'holds a certificate that does not parse');
    }
  }
  return createSecureContext({ ca: [...rootCertificates, ...pems] });
}

function caProblem(value: string, message: string): ConfigError {
  return new ConfigError([
    {
      key: CA_FILE_KEY,
      envVar: CA_FILE_KEY.replace(/\./g, '__'),
      source: 'configuration',
      value,
      message,
    },
  ]);
}

/** The agent's DNS: answers every name with the addresses the guard checked, nothing else. */
function checkedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname, options, callback) => {
    if (options.all) callback(null, entries);
    else callback(null, entries[0].address, entries[0].family);
  };
}

/** Refused before any body byte is read when Content-Length already says too much. */
function declaresTooMuch(request: ProxyRequest, res: IncomingMessage, proxy: ProxyConfig): boolean {
  if (responseHasNoBody(request.method, res.statusCode)) return false;
  return Number(res.headers['content-length']) > proxy.MaxResponseBodyBytes;
}

function isIdle(agent: HttpAgent): boolean {
  return [agent.sockets, agent.freeSockets, agent.requests].every(
    (pool) => Object.keys(pool).length === 0,
  );
}

function declaredLength(request: ProxyRequest): number | undefined {
  if (request.contentLength !== undefined) return request.contentLength;
  const header = request.headers['content-length'];
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

function outgoingHeaders(
  request: ProxyRequest,
  upgrade: boolean,
  declared: number | undefined,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = stripHopByHop(request.headers, { upgrade });
  headers.host = hostHeader(request);
  delete headers['content-length'];
  if (request.body && declared !== undefined) headers['content-length'] = String(declared);
  else if (request.body) headers['transfer-encoding'] = 'chunked';
  return headers;
}

/**
 * Response headers with repeated fields kept apart (Set-Cookie and friends), names lower-case.
 * Read from rawHeaders in one pass: cheaper than `headersDistinct`, which makes an array of every
 * value.
 */
function responseHeaders(res: IncomingMessage): HeaderMap {
  const headers: HeaderMap = {};
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === '__proto__') continue; // would replace the object's prototype
    const value = raw[i + 1];
    // Own properties only: `constructor` must not find Object's.
    const seen = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (seen === undefined) headers[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = [seen, value];
  }
  return headers;
}

/** A plain body of a declared length the caller wants whole. */
function readsWhole(request: ProxyRequest, res: IncomingMessage, max: number): boolean {
  if (responseHasNoBody(request.method, res.statusCode)) return false;
  const length = res.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length) || Number(length) > max) return false;
  return !isEventStream(res.headers['content-type']);
}

/**
 * Every byte of `res` (Node's parser stops at its Content-Length), then `done`; an error or a
 * connection closed before the end fails it.
 */
function readWhole(res: IncomingMessage, done: (error: Error | null, bytes: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  const finish = (error: Error | null) => {
    if (over) return;
    over = true;
    res.off('data', onData);
    if (error) {
      res.destroy();
      return done(error, Buffer.alloc(0));
    }
    done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
  };
  res.on('data', onData);
  res.once('end', () => finish(null));
  res.once('error', (error) => finish(error));
  res.once('close', () => {
    if (!res.complete) finish(new Error('the connection closed before the body was complete'));
  });
}

/** Passes chunks through unchanged (no buffering) and fails once more than `max` bytes went by. */
function byteLimit(max: number, tooLarge: () => GatewayError): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(tooLarge());
      else callback(null, chunk);
    },
  });
}

function limitedBody(
  res: IncomingMessage,
  request: ProxyRequest,
  proxy: ProxyConfig,
  signal?: CancelSignal,
): Readable {
  const body = byteLimit(proxy.MaxResponseBodyBytes, () => responseTooLarge(proxy));
  const onAbort = () => body.destroy(signal?.reason as Error | undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  res.on('error', (error) => body.destroy(toGatewayError(error, request)));
  // The body may fail before the caller has attached to it (the parser can deliver the head and
  // too many bytes in one go). Without a listener that would crash the process; the error stays
  // on the stream (`errored`) and reaches whoever reads or pipes it.
  body.on('error', () => undefined);
  // Given up early (limit, consumer gone): the socket is mid-message, so it is not reused.
  body.on('close', () => {
    signal?.removeEventListener('abort', onAbort);
    if (!res.complete) res.destroy();
  });
  res.pipe(body);
  return body;
}

function toGatewayError(error: unknown, request: ProxyRequest, bodyError?: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  if (bodyError !== undefined && !isGatewayError(bodyError)) {
    return new GatewayError(
      'VEC_REQUEST_MALFORMED',
      'the request body ended early (client aborted)',
      {
        cause: bodyError,
      },
    );
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  const where = `${request.host}:${request.port}`;
  if (CERT_ERROR.test(code)) {
    return new GatewayError(
      'VEC_UPSTREAM_TLS_INVALID',
      `the TLS certificate of ${where} did not verify (${code}); Vectra never turns verification off: add the issuing CA to ${CA_FILE_KEY} if it is yours.`,
      { cause: error },
    );
  }
  if (MALFORMED.has(code)) {
    return new GatewayError('VEC_REQUEST_MALFORMED', `the request cannot be sent as is (${code})`, {
      cause: error,
    });
  }
  return unreachable(request, `could not reach ${where} (${code})`, error);
}

function unreachable(request: ProxyRequest, message: string, cause?: unknown): GatewayError {
  return new GatewayError('VEC_UPSTREAM_UNREACHABLE', message, {
    cause,
    context: { host: request.host },
  });
}

function timedOut(request: ProxyRequest, proxy: ProxyConfig): GatewayError {
  return new GatewayError(
    'VEC_UPSTREAM_TIMEOUT',
    `${request.host}:${request.port} did not answer within ${proxy.UpstreamTimeoutSeconds} s (System.Proxy.UpstreamTimeoutSeconds).`,
  );
}

function requestTooLarge(max: number): GatewayError {
  return new GatewayError(
    'VEC_REQUEST_TOO_LARGE',
    `The request body exceeds ${max} bytes (System.Proxy.MaxRequestBodyBytes).`,
  );
}

function responseTooLarge(proxy: ProxyConfig): GatewayError {
  return new GatewayError(
    'VEC_RESPONSE_TOO_LARGE',
    `The upstream response exceeds ${proxy.MaxResponseBodyBytes} bytes (System.Proxy.MaxResponseBodyBytes); it was cut off.`,
  );
}
