/**
 * The request body for `request.body.*` conditions. Only a JSON body (Content-Type
 * application/json or application/*+json) within Policy.MaxBodyBytes is read: into memory, parsed,
 * and handed back to the request as a fresh stream of the same bytes, so `forward` still streams
 * it upstream unchanged. A body that declares a larger Content-Length is never read; a chunked
 * one is read up to the limit, and when it turns out larger, the bytes read so far are put back
 * in front of the rest and nothing is parsed. Other bodies are never touched.
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
 * Reads and parses `request.body` when it is JSON within `limit` bytes, replacing it with a
 * stream of the same bytes; otherwise leaves it alone (see the file comment).
 */
export async function readJsonBody(request: ProxyRequest, limit: number): Promise<BodyInfo> {
  const source = request.body;
  const declared = request.contentLength;
  if (!source || limit <= 0 || !isJsonContentType(request.headers['content-type'])) {
    return unreadBody(request);
  }
  if (declared !== undefined && declared > limit) return { size: declared };

  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      const bytes = Buffer.concat(chunks, size);
      request.body = Readable.from(size > 0 ? [bytes] : [], { objectMode: false });
      return { size, json: parse(bytes) };
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) break;
  }
  request.body = Readable.from(rest(chunks, iterator), { objectMode: false });
  return { size: declared ?? null };
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

function parse(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** A dry run's body given as bytes (`vectra policy test --body FILE`). */
export function bodyFromBytes(
  bytes: Buffer,
  contentType: string | undefined,
  limit: number,
): BodyInfo {
  if (!isJsonContentType(contentType) || bytes.length > limit) return { size: bytes.length };
  return { size: bytes.length, json: parse(bytes) };
}

/** A dry run's body given as a JSON value (`POST /v1/policy/evaluate`). */
export function bodyFromJson(value: unknown, limit: number): BodyInfo {
  const size = Buffer.byteLength(JSON.stringify(value) ?? '');
  return size > limit ? { size } : { size, json: value };
}
