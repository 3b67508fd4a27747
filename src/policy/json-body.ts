/**
 * The request body for `request.body.*` conditions, read only when some policy reads it. A body
 * within Policy.MaxBodyBytes is read into memory, judged, and handed back to the request as a
 * fresh stream of the same bytes, so `forward` still streams it upstream unchanged. It is JSON
 * when its Content-Type says so (application/json, application/*+json) or when its content does
 * (after an optional UTF-8 BOM and white space, it starts with `{` or `[`); the BOM is skipped and
 * the rest must be valid UTF-8 and valid JSON, with no object naming a key twice (parsers keep the
 * first value or the last, so no one reading of it is what the upstream reads). A body that declares a larger Content-Length is
 * never read; a chunked one is read up to the limit, and when it turns out larger, the bytes read
 * so far are put back in front of the rest. Either way, and for a body that is not JSON, the
 * BodyInfo says why it could not be judged (`unreadable`).
 */
import { Readable } from 'node:stream';
import type { ProxyRequest } from '../http/types';
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
 * body (nothing, or only a BOM and white space) holds nothing to judge; JSON with an object that
 * names a key twice is `repeated-key`; anything else is `not-json`.
 */
export function judgeBytes(bytes: Buffer, contentType: string | string[] | undefined): BodyInfo {
  const size = bytes.length;
  const sniffed = sniffBody(bytes);
  if (sniffed === 'blank') return { size };
  if (sniffed === 'other' && !isJsonContentType(contentType)) {
    return { size, unreadable: 'not-json' };
  }
  let text: string;
  let json: unknown;
  try {
    text = UTF8.decode(hasBom(bytes) ? bytes.subarray(3) : bytes);
    json = JSON.parse(text);
  } catch {
    return { size, unreadable: 'not-json' };
  }
  return repeatsKey(text) ? { size, unreadable: 'repeated-key' } : { size, json };
}

/**
 * Whether an object in `text` (valid JSON) names a key twice, escapes decoded (`"a"` and
 * `"\u0061"` are one key). One pass; a set of keys per open object.
 */
export function repeatsKey(text: string): boolean {
  // Per open container: its keys so far (an object) or undefined (an array).
  const open: Array<Set<string> | undefined> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      let escaped = false;
      for (let d = text.charCodeAt(end); d !== 0x22; d = text.charCodeAt(end)) {
        if (d === 0x5c) {
          escaped = true;
          end += 2;
        } else end += 1;
      }
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const key = escaped
          ? (JSON.parse(text.slice(i, end + 1)) as string)
          : text.slice(i + 1, end);
        if (keys.has(key)) return true;
        keys.add(key);
      }
      expectKey = false;
      i = end;
    } else if (c === 0x7b) {
      open.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      open.push(undefined);
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
    } else if (c === 0x2c) {
      expectKey = open[open.length - 1] !== undefined;
    }
  }
  return false;
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
