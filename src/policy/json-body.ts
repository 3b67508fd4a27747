/**
 * The request body for `request.body.*` conditions, read only when some policy reads it. A body
 * within Policy.MaxBodyBytes is read into memory, judged, and handed back to the request as a
 * fresh stream of the same bytes, so `forward` still streams it upstream unchanged. It is JSON
 * when its Content-Type says so (application/json, application/*+json) or when its content does
 * (after an optional UTF-8 BOM and white space, it starts with `{` or `[`); the BOM is skipped and
 * the rest must be valid UTF-8 and valid JSON. A body that declares a larger Content-Length is
 * never read; a chunked one is read up to the limit, and when it turns out larger, the bytes read
 * so far are put back in front of the rest. Either way, and for a body that is not JSON, the
 * BodyInfo says why it could not be judged (`unreadable`).
 */
import { Readable } from 'node:stream';
import type { ProxyRequest } from '../pipeline/types';
import type { BodyInfo } from './input';

export function isJsonContentType(value: string | string[] | undefined): boolean {
  const type = (Array.isArray(value) ? value[0] : value)?.split(';')[0].trim().toLowerCase();
  return type !== undefined && /^application\/(?:[\w.-]+\+)?json$/.test(type);
}

/** What a body is without reading it. */
export function unreadBody(request: ProxyRequest): BodyInfo {
  if (!request.body) return { size: request.contentLength ?? 0 };
  return { size: request.contentLength ?? null };
}

/**
 * Reads and judges `request.body` within `limit` bytes, replacing it with a stream of the same
 * bytes (see the file comment).
 */
export async function readRequestBody(request: ProxyRequest, limit: number): Promise<BodyInfo> {
  const source = request.body;
  const declared = request.contentLength;
  if (!source || declared === 0) return unreadBody(request);
  if (declared !== undefined && declared > limit)
    return { size: declared, unreadable: 'too-large' };

  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      const bytes = Buffer.concat(chunks, size);
      request.body = Readable.from(size > 0 ? [bytes] : [], { objectMode: false });
      return judgeBytes(bytes, request.headers['content-type']);
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) break;
  }
  request.body = Readable.from(rest(chunks, iterator), { objectMode: false });
  return { size: declared ?? null, unreadable: 'too-large' };
}

/** The chunks already read, then whatever the source still holds. */
async function* rest(
  chunks: Buffer[],
  iterator: AsyncIterator<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  yield* chunks;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Ends the source too when the consumer stops early (an upstream error).
    await iterator.return?.();
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Whether `bytes` start with a UTF-8 byte order mark. */
function hasBom(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/** JSON white space: space, tab, line feed, carriage return. */
function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * What the content of a body looks like: `json` when its first character after an optional
 * UTF-8 BOM and white space is `{` or `[`, `blank` when there is nothing but those, else `other`.
 */
export function sniffBody(bytes: Buffer): 'json' | 'blank' | 'other' {
  for (let i = hasBom(bytes) ? 3 : 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (isSpace(byte)) continue;
    return byte === 0x7b || byte === 0x5b ? 'json' : 'other';
  }
  return 'blank';
}

/**
 * A whole body judged: JSON by its Content-Type or its content, parsed without the BOM; a blank
 * body (nothing, or only a BOM and white space) holds nothing to judge; anything else is
 * `not-json`.
 */
export function judgeBytes(bytes: Buffer, contentType: string | string[] | undefined): BodyInfo {
  const size = bytes.length;
  const sniffed = sniffBody(bytes);
  if (sniffed === 'blank') return { size };
  if (sniffed === 'other' && !isJsonContentType(contentType)) {
    return { size, unreadable: 'not-json' };
  }
  try {
    const text = UTF8.decode(hasBom(bytes) ? bytes.subarray(3) : bytes);
    return { size, json: JSON.parse(text) as unknown };
  } catch {
    return { size, unreadable: 'not-json' };
  }
}

/** A dry run's body given as bytes (`vectra policy test --body FILE`, `bodyText`). */
export function bodyFromBytes(
  bytes: Buffer,
  contentType: string | undefined,
  limit: number,
): BodyInfo {
  if (bytes.length > limit) return { size: bytes.length, unreadable: 'too-large' };
  return judgeBytes(bytes, contentType);
}

/** A dry run's body given as a JSON value (`POST /v1/policy/evaluate`). */
export function bodyFromJson(value: unknown, limit: number): BodyInfo {
  const size = Buffer.byteLength(JSON.stringify(value) ?? '');
  return size > limit ? { size, unreadable: 'too-large' } : { size, json: value };
}
