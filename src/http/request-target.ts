/**
 * Request-targets (RFC 9112, section 3.2) parsed once into the one canonical value that the
 * policy input, the audit row and the upstream request line are all built from, so that what a
 * policy judged is byte for byte what goes upstream.
 *
 * The path is normalised the way common servers route it: escapes of unreserved characters
 * decoded (`%61` is `a`, `%2e` is `.`), other escapes upper-cased, characters a path may not
 * hold percent-encoded, empty segments collapsed (`//admin` is `/admin`), dot segments removed.
 * `%2F` and `%5C` stay encoded: some APIs carry them inside one segment (GitLab's project ids);
 * `separatorsDecoded` gives the view of a server that decodes them, for policies to judge too.
 *
 * Refused with VEC_REQUEST_INVALID: asterisk-form (`*`), userinfo (`user@host`), fragments,
 * broken escapes, dot segments with parameters (`..;x`, which Tomcat resolves as `..`), and
 * host names whose last label is a number but that are not dotted-decimal IPv4 (`0x7f.1`).
 */
import { isIPv6 } from 'node:net';
import { GatewayError } from '../errors';

export type TargetScheme = 'http' | 'https';

/** A normalised path (`/v1/items`) and its query as received (`?a=1`, or ``). */
export interface OriginTarget {
  path: string;
  query: string;
}

export interface AbsoluteTarget extends OriginTarget {
  scheme: TargetScheme;
  /** Lower-case, without a trailing dot; IPv6 literals without brackets. */
  host: string;
  /** The explicit port, else the scheme's default. */
  port: number;
}

/** Characters a path segment holds as they are (RFC 3986 pchar, without `%`). */
const PCHAR = charTable(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@",
);
const UNRESERVED = charTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~');
/** Anything that is not a plain pchar or `/`, an empty segment, a segment starting with a dot. */
const NEEDS_WORK = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]|\/[/.]/;
const REG_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;
/** The last label of a host name (trailing dot dropped) when it is a number: an IPv4 spelling. */
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|[0-9]+)$/;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const DOTTED_DECIMAL = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
/** Where the authority of an absolute-form target ends. */
const AUTHORITY_END = /[/?#]/g;
const HEX = /^[0-9A-Fa-f]{2}$/;

/** `/path?query` (origin-form). */
export function parseOriginForm(target: string): OriginTarget {
  if (!target.startsWith('/')) throw invalid('it is not an origin-form path (/path?query)');
  return splitPathAndQuery(target);
}

/**
 * `http(s)://host[:port][/path][?query]` (absolute-form), the scheme in any case. Undefined when
 * the target does not start with `http://` or `https://`; throws when it does but is invalid.
 */
export function parseAbsoluteForm(target: string): AbsoluteTarget | undefined {
  const colon = target.indexOf('://');
  if (colon !== 4 && colon !== 5) return undefined;
  const schemeText = target.slice(0, colon).toLowerCase();
  if (schemeText !== 'http' && schemeText !== 'https') return undefined;
  const scheme: TargetScheme = schemeText;
  const start = colon + 3;
  AUTHORITY_END.lastIndex = start;
  const end = AUTHORITY_END.exec(target)?.index ?? target.length;
  const { host, port } = parseHostPort(target.slice(start, end), scheme === 'https' ? 443 : 80);
  const rest = target.slice(end);
  const { path, query } = splitPathAndQuery(rest.startsWith('/') ? rest : `/${rest}`);
  return { scheme, host, port, path, query };
}

/** Origin-form or absolute-form; anything else (asterisk-form, authority-form) is refused. */
export function parseRequestTarget(target: string): OriginTarget | AbsoluteTarget {
  if (target.startsWith('/')) return parseOriginForm(target);
  const absolute = parseAbsoluteForm(target);
  if (absolute) return absolute;
  throw invalid(
    target === '*'
      ? 'asterisk-form (*) is not proxied'
      : 'it is neither a path (/path?query) nor an absolute http(s) URL',
  );
}

/**
 * `host:port` (authority-form, the target of CONNECT), its host checked and normalised like an
 * absolute-form target's; the port is required.
 */
export function parseAuthorityForm(authority: string): { host: string; port: number } {
  const parsed = parseHostPort(authority, 0);
  if (parsed.port === 0) throw invalid('CONNECT needs a host:port authority');
  return parsed;
}

/** The normalised form of `path` (which starts with `/` and holds no query). */
export function canonicalPath(path: string): string {
  if (!path.startsWith('/')) throw invalid('the path does not start with /');
  // Plain characters, no empty or dot segment: already normal (the common case).
  if (!NEEDS_WORK.test(path)) return path;
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < segments.length; i++) {
    const segment = canonicalSegment(segments[i]);
    const last = i === segments.length - 1;
    if (segment === '' || segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      trailingSlash = last;
      continue;
    }
    if (segment.startsWith('.;') || segment.startsWith('..;')) {
      throw invalid('a dot segment carries parameters (..;)');
    }
    out.push(segment);
    trailingSlash = false;
  }
  if (out.length === 0) return '/';
  return `/${out.join('/')}${trailingSlash ? '/' : ''}`;
}

/**
 * The canonical `path` as a server that decodes `%2F` and `%5C` into separators routes it
 * (`/a%2F..%2Fadmin` is `/admin`); undefined when the path holds neither.
 */
export function separatorsDecoded(path: string): string | undefined {
  if (!path.includes('%2F') && !path.includes('%5C')) return undefined;
  return canonicalPath(path.replace(/%2F|%5C/g, '/'));
}

/** The canonical `path` without `;parameters` in its segments; undefined when it has none. */
export function parametersStripped(path: string): string | undefined {
  if (!path.includes(';')) return undefined;
  return canonicalPath(path.replace(/;[^/]*/g, ''));
}

/**
 * Every path a server may route the canonical `path` to: as sent, with `%2F` and `%5C` decoded
 * into separators, and each of those without `;parameters` (Tomcat, Jetty, Spring). A check that
 * lets a request through must hold for all of them.
 */
export function pathReadings(path: string): string[] {
  const readings = [path];
  const decoded = separatorsDecoded(path);
  if (decoded !== undefined) readings.push(decoded);
  for (const candidate of [...readings]) {
    const stripped = parametersStripped(candidate);
    if (stripped !== undefined) readings.push(stripped);
  }
  return [...new Set(readings)];
}

function splitPathAndQuery(target: string): OriginTarget {
  if (target.includes('#')) throw invalid('it carries a fragment (#), which clients do not send');
  const mark = target.indexOf('?');
  if (mark < 0) return { path: canonicalPath(target), query: '' };
  return { path: canonicalPath(target.slice(0, mark)), query: target.slice(mark) };
}

/** One segment: escapes checked, unreserved ones decoded, others upper-cased; the rest encoded. */
function canonicalSegment(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    const code = segment.charCodeAt(i);
    if (ch === '%') {
      const hex = segment.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw invalid('a % is not followed by two hex digits');
      const byte = parseInt(hex, 16);
      out += byte < 128 && UNRESERVED[byte] ? String.fromCharCode(byte) : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (code < 128 && PCHAR[code]) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

function parseHostPort(authority: string, defaultPort: number): { host: string; port: number } {
  if (authority.includes('@')) throw invalid('it carries userinfo (user@host)');
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    host = authority.slice(1, close < 0 ? authority.length : close).toLowerCase();
    if (close < 0 || host.includes('%') || !isIPv6(host))
      throw invalid('the IPv6 address is malformed');
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw invalid('the authority is malformed');
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    host = (colon < 0 ? authority : authority.slice(0, colon)).toLowerCase();
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (!REG_NAME.test(host)) throw invalid('the host name is malformed');
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (NUMERIC_LABEL.test(host.slice(host.lastIndexOf('.') + 1)) && !DOTTED_DECIMAL.test(host)) {
      throw invalid('the host ends in a number but is not a dotted-decimal IPv4 address');
    }
  }
  if (portText === undefined || portText === '') return { host, port: defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) throw invalid('the port is not a number from 1 to 65535');
  return { host, port };
}

function invalid(why: string): GatewayError {
  return new GatewayError('VEC_REQUEST_INVALID', `The request-target is invalid: ${why}.`, {
    context: { field: 'target' },
  });
}

function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (const ch of chars) table[ch.charCodeAt(0)] = 1;
  return table;
}
