/**
 * Secrets echoed back are redacted (DESIGN.md, security invariants): an upstream that reflects
 * the request (httpbin's /headers, an error page quoting the URL) must not hand the injected
 * credential to the agent. Only used when something was injected, so the passthrough path
 * stays zero-copy. What counts as an echo (the value in any letter case, percent-encoded, in hex,
 * base64 and base64url) is in ./echo-forms.ts, the one-pass scan in ./echo-scanner.ts. A small
 * plain body with a declared length is read whole and redacted in one pass, keeping a
 * (recomputed) Content-Length; other bodies are scanned as a stream of bytes across chunk
 * boundaries, holding back only a tail where an echo may still be under way. Both give the same
 * bytes. Header values are scanned too.
 */
import { Readable, Transform, finished, pipeline, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors';
import { bytesStream } from '../http/bytes-stream';
import { isEventStream, responseHasNoBody } from '../http/message-body';
import { REDACTED, echoScanner, type EchoScanner } from './echo-scanner';
import type { HeaderMap, UpstreamResponse } from '../http/types';

export { REDACTED };

/** Shorter values are no secret worth the damage of redacting every occurrence of them. */
export const MIN_REDACTED_LENGTH = 4;
/**
 * A plain body declaring at most this many bytes is read whole and redacted in one pass, so the
 * answer keeps a (recomputed) Content-Length; larger or unknown-length bodies are streamed.
 */
export const MAX_BUFFERED_REDACTION_BYTES = 64 * 1024;

/** The values worth redacting: distinct, long enough, longest first. */
export function redactionSecrets(injected: readonly string[]): string[] {
  return [...new Set(injected)]
    .filter((secret) => secret.length >= MIN_REDACTED_LENGTH)
    .sort((a, b) => b.length - a.length);
}

/** Header values redacted of `secrets`, with one scanner for all of them. */
export function redactHeaders(headers: HeaderMap, secrets: readonly string[]): HeaderMap {
  if (secrets.length === 0) return { ...headers };
  const scanner = echoScanner(secrets);
  // Most answers echo nothing: one test over all the values, then a plain copy.
  const values = Object.values(headers).flat().join('\n');
  if (!/[\u0100-\uffff]/.test(values) && !scanner.mayHold(values)) return { ...headers };
  const redact = (text: string) => scanText(scanner, text);
  const redacted: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    redacted[name] = Array.isArray(value) ? value.map(redact) : redact(value);
  }
  return redacted;
}

/**
 * `text` redacted by `scanner`. Node hands header values over as latin1 (one character per byte
 * on the wire), so they are scanned as those bytes, where a UTF-8 secret's echo shows.
 */
function scanText(scanner: EchoScanner, text: string): string {
  const encoding = /[\u0100-\uffff]/.test(text) ? 'utf8' : 'latin1';
  const { out, replaced } = scanner.scan(Buffer.from(text, encoding), true);
  return replaced ? Buffer.concat(out).toString(encoding) : text;
}

/** `bytes` with every echo of `secrets` replaced, in one pass; `bytes` itself if none. */
export function redactBytes(bytes: Buffer, secrets: readonly string[]): Buffer {
  const { out, replaced } = echoScanner(secrets).scan(bytes, true);
  return replaced ? Buffer.concat(out) : bytes;
}

/** A byte stream with every echo of `secrets` replaced by REDACTED. */
export function createRedactor(secrets: readonly string[]): Transform {
  const scanner = echoScanner(secrets);
  let tail = Buffer.alloc(0);

  return new Transform({
    transform(chunk: Buffer | string, _encoding, callback: TransformCallback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const buffer = tail.length === 0 ? bytes : Buffer.concat([tail, bytes]);
      // Only a tail where an echo may still be under way waits for the next chunk: everything
      // else (an SSE event, a chat token) goes out at once.
      const { out, rest } = scanner.scan(buffer, false);
      tail = Buffer.from(rest); // a copy, so the upstream's chunk can be released
      const ready = out.length === 1 ? out[0] : Buffer.concat(out);
      callback(null, ready.length > 0 ? ready : undefined);
    },
    flush(callback: TransformCallback) {
      const { out } = scanner.scan(tail, true);
      tail = Buffer.alloc(0);
      const ready = Buffer.concat(out);
      callback(null, ready.length > 0 ? ready : undefined);
    },
  });
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * `response` with its headers and body redacted of `secrets`. A compressed body is decoded first
 * (and sent on uncompressed), since a compressed echo would not show the secret; an encoding
 * Vectra cannot decode is withheld (fail closed). Content-Length goes, as redaction changes the
 * length: the body is sent chunked. Bodiless answers (HEAD, 204, 304) keep their headers' length.
 */
export function redactResponse(
  response: UpstreamResponse,
  secrets: readonly string[],
  method: string,
): UpstreamResponse {
  const headers = redactHeaders(response.headers, secrets);
  if (responseHasNoBody(method, response.status)) {
    return { ...response, headers };
  }
  const stages: Array<Readable | Transform> = [response.body];
  const encoding = String(headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    const decoder = DECODERS[encoding];
    if (!decoder) {
      response.body.destroy();
      throw new GatewayError(
        'VEC_PIPELINE_STAGE_FAILED',
        `The upstream answered with content encoding "${encoding}", which Vectra cannot check for echoed credentials; the response was withheld.`,
        { context: { stage: 'forward' } },
      );
    }
    stages.push(decoder());
    delete headers['content-encoding'];
  }
  delete headers['content-length'];
  const redactor = createRedactor(secrets);
  // Errors travel down the chain; the consumer destroying `redactor` tears the upstream down.
  pipeline([...stages, redactor], () => undefined);
  return { ...response, headers, body: redactor, bytes: undefined };
}

/**
 * `response` redacted of `secrets`, as forward hands it on. A plain (identity) body that declares
 * a Content-Length of at most MAX_BUFFERED_REDACTION_BYTES and is no event stream is read whole
 * (through the upstream client's size limit), redacted in one pass and handed on with its new
 * Content-Length: no chunked encoding, no Transform. Anything else streams (redactResponse).
 * A body that fails while it is read (size limit, upstream reset) rejects with its error.
 */
export async function redactUpstreamResponse(
  response: UpstreamResponse,
  secrets: readonly string[],
  method: string,
): Promise<UpstreamResponse> {
  const declared = bufferableLength(response, method);
  if (declared === undefined) return redactResponse(response, secrets, method);
  const headers = redactHeaders(response.headers, secrets);
  if (response.bytes !== undefined) {
    // Already read whole by the upstream client (SendOptions.bufferUpTo).
    const body = redactBytes(response.bytes, secrets);
    headers['content-length'] = String(body.length);
    return { ...response, headers, body: bytesStream(body), bytes: body };
  }
  const { chunks, more } = await readAtMost(response.body, declared);
  if (more) {
    // More bytes than declared (only a non-HTTP source can do that): stream after all.
    const redactor = createRedactor(secrets);
    for (const chunk of chunks) redactor.write(chunk);
    pipeline(response.body, redactor, () => undefined);
    delete headers['content-length'];
    return { ...response, headers, body: redactor, bytes: undefined };
  }
  const body = redactBytes(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), secrets);
  headers['content-length'] = String(body.length);
  return { ...response, headers, body: bytesStream(body), bytes: body };
}

/** The declared length of a body worth reading whole; undefined when it should stream. */
function bufferableLength(response: UpstreamResponse, method: string): number | undefined {
  const { status, headers } = response;
  if (responseHasNoBody(method, status)) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && !/^\s*(identity)?\s*$/i.test(String(encoding))) return undefined;
  if (isEventStream(headers['content-type'])) return undefined;
  const length = headers['content-length'];
  if (typeof length !== 'string' || !/^\d+$/.test(length.trim())) return undefined;
  const declared = Number(length);
  return declared <= MAX_BUFFERED_REDACTION_BYTES ? declared : undefined;
}

/**
 * Every chunk of `body` until it ends, or until more than `max` bytes came (`more`; the body is
 * then left paused, unread beyond). A failing body rejects, and is destroyed.
 */
function readAtMost(body: Readable, max: number): Promise<{ chunks: Buffer[]; more: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      size += bytes.length;
      if (size <= max) return;
      stop();
      resolve({ chunks, more: true });
    };
    // Only the readable side counts: the upstream client's body is a Transform.
    const cleanup = finished(body, { writable: false }, (err) => {
      stop();
      if (!err) return resolve({ chunks, more: false });
      body.destroy();
      reject(err);
    });
    function stop(): void {
      body.pause();
      body.off('data', onData);
      cleanup();
    }
    body.on('data', onData);
  });
}
