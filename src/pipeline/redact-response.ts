/**
 * Secrets echoed back are redacted (DESIGN.md, security invariants): an upstream that reflects
 * the request (httpbin's /headers, an error page quoting the URL) must not hand the injected
 * credential to the agent. Only used when something was injected, so the passthrough path
 * stays zero-copy. Bodies are scanned as bytes across chunk boundaries, keeping a tail of the
 * longest secret's length minus one; header values are scanned too.
 */
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors';
import type { HeaderMap, UpstreamResponse } from './types';

export const REDACTED = '[REDACTED]';
/** Shorter values are no secret worth the damage of redacting every occurrence of them. */
export const MIN_REDACTED_LENGTH = 4;

/** The values worth redacting: distinct, long enough, longest first (so it wins a tie). */
export function redactionSecrets(injected: readonly string[]): string[] {
  return [...new Set(injected)]
    .filter((secret) => secret.length >= MIN_REDACTED_LENGTH)
    .sort((a, b) => b.length - a.length);
}

export function redactText(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join(REDACTED);
  return result;
}

export function redactHeaders(headers: HeaderMap, secrets: readonly string[]): HeaderMap {
  const redacted: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    redacted[name] = Array.isArray(value)
      ? value.map((v) => redactText(v, secrets))
      : redactText(value, secrets);
  }
  return redacted;
}

/** Length of the longest end of `buffer` (at most `keep` bytes) that begins one of `needles`. */
function pendingPrefix(buffer: Buffer, needles: readonly Buffer[], keep: number): number {
  for (let length = Math.min(keep, buffer.length); length > 0; length--) {
    const end = buffer.subarray(buffer.length - length);
    if (needles.some((needle) => needle.length > length && end.equals(needle.subarray(0, length))))
      return length;
  }
  return 0;
}

/** A byte stream with every occurrence of `secrets` replaced by REDACTED. */
export function createRedactor(secrets: readonly string[]): Transform {
  const needles = secrets.map((secret) => Buffer.from(secret, 'utf8'));
  const keep = Math.max(0, ...needles.map((needle) => needle.length)) - 1;
  const marker = Buffer.from(REDACTED);
  let tail = Buffer.alloc(0);

  /** Replaces matches starting before `limit`; returns what is safe to emit and the new tail. */
  const scan = (buffer: Buffer, limit: number): { out: Buffer[]; rest: Buffer } => {
    const out: Buffer[] = [];
    let position = 0;
    for (;;) {
      let at = -1;
      let length = 0;
      for (const needle of needles) {
        const found = buffer.indexOf(needle, position);
        if (found >= 0 && found < limit && (at < 0 || found < at)) {
          at = found;
          length = needle.length;
        }
      }
      if (at < 0) break;
      out.push(buffer.subarray(position, at), marker);
      position = at + length;
    }
    const cut = Math.max(position, limit);
    out.push(buffer.subarray(position, cut));
    return { out, rest: buffer.subarray(cut) };
  };

  return new Transform({
    transform(chunk: Buffer | string, _encoding, callback: TransformCallback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const buffer = tail.length === 0 ? bytes : Buffer.concat([tail, bytes]);
      // Hold back only a tail that could still become a secret: everything else (an SSE event,
      // a chat token) goes out at once. A match starting before `limit` lies wholly in `buffer`.
      const { out, rest } = scan(buffer, buffer.length - pendingPrefix(buffer, needles, keep));
      tail = Buffer.from(rest); // a copy, so the upstream's chunk can be released
      const ready = Buffer.concat(out);
      callback(null, ready.length > 0 ? ready : undefined);
    },
    flush(callback: TransformCallback) {
      const { out } = scan(tail, tail.length);
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
  if (method === 'HEAD' || response.status === 204 || response.status === 304) {
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
  return { ...response, headers, body: redactor };
}
