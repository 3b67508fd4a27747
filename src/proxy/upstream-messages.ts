/**
 * The heads and bodies of upstream exchanges: the outgoing headers (Host always the request's
 * host and port), the response headers, and bodies streamed with backpressure and counted against
 * the size limits; nothing is buffered or decompressed unless the caller asked for a whole body.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import type { ProxyConfig } from '../config/schema';
import type { GatewayError } from '../errors';
import type { HeaderMap, ProxyRequest } from '../http/types';
import { hostHeader } from '../http/authority';
import { stripHopByHop } from '../http/hop-by-hop';
import { isEventStream, responseHasNoBody } from '../http/message-body';
import { responseTooLarge, toGatewayError } from './upstream-errors';
import type { CancelSignal } from '../http/upstream-client';

/** Refused before any body byte is read when Content-Length already says too much. */
export function declaresTooMuch(
  request: ProxyRequest,
  res: IncomingMessage,
  proxy: ProxyConfig,
): boolean {
  if (responseHasNoBody(request.method, res.statusCode)) return false;
  return Number(res.headers['content-length']) > proxy.MaxResponseBodyBytes;
}

export function declaredLength(request: ProxyRequest): number | undefined {
  if (request.contentLength !== undefined) return request.contentLength;
  const header = request.headers['content-length'];
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

export function outgoingHeaders(
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
export function responseHeaders(res: IncomingMessage): HeaderMap {
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
export function readsWhole(request: ProxyRequest, res: IncomingMessage, max: number): boolean {
  if (responseHasNoBody(request.method, res.statusCode)) return false;
  const length = res.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length) || Number(length) > max) return false;
  return !isEventStream(res.headers['content-type']);
}

/**
 * Every byte of `res` (Node's parser stops at its Content-Length), then `done`; an error or a
 * connection closed before the end fails it.
 */
export function readWhole(
  res: IncomingMessage,
  done: (error: Error | null, bytes: Buffer) => void,
): void {
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
export function byteLimit(max: number, tooLarge: () => GatewayError): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(tooLarge());
      else callback(null, chunk);
    },
  });
}

export function limitedBody(
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
