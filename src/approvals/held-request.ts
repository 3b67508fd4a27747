/**
 * What an approval records of the request it is for, and the key that binds it to that exact
 * request: agent, vault, method, canonical URL, the SHA-256 of the body and the headers that
 * change what it does (method overrides, Content-Type, Content-Encoding). Headers and query
 * values with credential-like names are redacted; the body is kept only as its hash and a
 * bounded preview (JSON pretty-printed, secret-looking keys redacted).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GatewayError } from '../errors';
import { METHOD_OVERRIDE_HEADERS } from '../http/method-override';
import type { ProxyRequest } from '../http/types';
import { isSecretKey, REDACTED } from '../observability/redact';

/** The body as read for an approval: its bytes (for forwarding), hash and size. */
export interface BufferedBody {
  bytes: Buffer;
  sha256: string;
}

/**
 * Reads the whole body (at most `limit` bytes, else VEC_REQUEST_TOO_LARGE, as `forward` would
 * answer) and hands the request a stream of the same bytes.
 */
export async function bufferBody(request: ProxyRequest, limit: number): Promise<BufferedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (request.body) {
    if (request.contentLength !== undefined && request.contentLength > limit) throw tooLarge(limit);
    for await (const chunk of request.body as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(bytes);
    }
  }
  const bytes = Buffer.concat(chunks, size);
  if (request.body) request.body = Readable.from(size > 0 ? [bytes] : [], { objectMode: false });
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    'VEC_REQUEST_TOO_LARGE',
    `The request body exceeds the limit of ${limit} bytes (System.Proxy.MaxRequestBodyBytes).`,
    { context: { limit } },
  );
}

/** Who asks for what, where: what a standing approval is matched on. */
export interface RequestOrigin {
  agent: string;
  vault: string;
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Canonical path and query, as sent upstream. */
  target: string;
}

/** The request an approval is for: its origin and the SHA-256 of its body. */
export interface RequestIdentity extends RequestOrigin {
  bodySha256: string;
  /** The request's headers; those in MEANING_HEADERS are part of the key. */
  headers: ProxyRequest['headers'];
}

/**
 * Headers that change what the same method, URL and body do: a method override and how the
 * body's bytes are read. An approval is bound to their values, so a retry cannot add
 * `X-HTTP-Method-Override: DELETE` to an approved POST.
 */
const MEANING_HEADERS = ['content-encoding', 'content-type', ...METHOD_OVERRIDE_HEADERS];

/** The key an approval is bound by: equal only for the identical request of the same agent. */
export function requestKey(request: RequestIdentity): string {
  const canonical = [
    request.agent,
    request.vault,
    request.method.toUpperCase(),
    `${request.scheme}://${request.host}:${request.port}${request.target}`,
    request.bodySha256,
    ...MEANING_HEADERS.map((name) => `${name}: ${headerText(request.headers[name]) ?? ''}`),
  ].join('\n');
  return createHash('sha256').update(canonical).digest('hex');
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** `scheme://host[:port]/path?query`, query values of credential-like names redacted. */
export function displayUrl(
  request: Omit<RequestIdentity, 'agent' | 'vault' | 'method' | 'bodySha256' | 'headers'>,
): string {
  const host = request.host.includes(':') ? `[${request.host}]` : request.host;
  const port = request.port === DEFAULT_PORT[request.scheme] ? '' : `:${request.port}`;
  return `${request.scheme}://${host}${port}${redactQuery(request.target)}`;
}

/** The path without its query. */
export function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

function redactQuery(target: string): string {
  const query = target.indexOf('?');
  if (query < 0) return target;
  return `${target.slice(0, query)}?${redactPairs(target.slice(query + 1))}`;
}

/** `name=value&…` with the values of credential-like names redacted. */
function redactPairs(text: string): string {
  return text
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // An undecodable name is judged as written.
      }
      return equals >= 0 && isSecretKey(decoded) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
}

/** A body that reads as `application/x-www-form-urlencoded`: pairs, no white space. */
const FORM_BODY = /^[^\s=&]+=[^\s&]*(?:&[^\s=&]*(?:=[^\s&]*)?)*$/;

/** Credential headers whose names `isSecretKey` does not catch. */
const CREDENTIAL_HEADERS = new Set([
  'x-amz-security-token',
  'x-auth-key',
  'x-goog-iam-authority-selector',
]);

/** Headers as the approval shows them: credential-like values redacted, the approval header left out. */
export function approvalHeaders(headers: ProxyRequest['headers']): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === APPROVAL_HEADER || name === '__proto__') continue;
    const secret = isSecretKey(name) || CREDENTIAL_HEADERS.has(name);
    shown[name] = secret ? REDACTED : Array.isArray(value) ? value.join(', ') : value;
  }
  return shown;
}

/** The header an agent names an approval with on its retry. */
export const APPROVAL_HEADER = 'x-vectra-approval';

/**
 * The first `limit` bytes of the body as text: JSON pretty-printed (secret-looking keys
 * redacted) when the whole body parses, a form's secret-looking fields redacted; null for an
 * empty body or a zero limit.
 */
export function bodyPreview(bytes: Buffer, limit: number): string | null {
  if (bytes.length === 0 || limit === 0) return null;
  let text: string | undefined;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    text = JSON.stringify(redactKeys(parsed), null, 2);
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    text = bytes.subarray(0, limit).toString('utf8');
    // A form's credential-like fields (`password=`, `client_secret=`) are redacted like JSON's.
    if (FORM_BODY.test(text)) text = redactPairs(text);
  }
  if (Buffer.byteLength(text) <= limit) return text;
  // Cut on a character boundary, and say that it was cut.
  return `${Buffer.from(text)
    .subarray(0, limit)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}…`;
}

function redactKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactKeys);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = isSecretKey(key) ? REDACTED : redactKeys(item);
  }
  return copy;
}
