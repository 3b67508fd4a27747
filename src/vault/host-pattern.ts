/**
 * Service host patterns: `host[:port][/path-glob]`, where host is a name, `*.name` (one or
 * more labels, never the apex), an IPv4 literal or a bracketed IPv6 literal. The pattern
 * decides where a credential may be injected, so parsing is strict: anything a reader could
 * take two ways (a scheme, userinfo, `*` mid-name, a numeric last label) is refused with a
 * message saying what is wrong, rather than guessed.
 *
 * The scheme is the service's own field, not part of the pattern. A request matches only on
 * that scheme and on one port: the pattern's, or the scheme's default (443, 80) when it names
 * none. So an https service's credential never goes out in clear text, nor to another port.
 */
import { isIPv6 } from 'node:net';
import { GatewayError } from '../errors';
import { DEFAULT_PORTS, type ServiceScheme } from './types';

export interface HostPattern {
  raw: string;
  /** Lower-case, without a trailing dot; may start with `*.`; IPv6 as `[canonical]`. */
  host: string;
  wildcard: boolean;
  port?: number;
  /** Starts with `/`: `*` matches within a segment, `**` (a whole segment) across segments. */
  pathGlob?: string;
  /** The glob up to its first `*` (`''` without a glob): longer wins when several match. */
  literalPathPrefix: string;
}

export interface HostRequest {
  scheme: ServiceScheme;
  host: string;
  port: number;
  /** May carry a query string; it is ignored. */
  path: string;
}

const MAX_HOST_LENGTH = 253;
const MAX_PATH_LENGTH = 2048;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

export function parseHostPattern(pattern: string): HostPattern {
  if (typeof pattern !== 'string' || pattern === '') {
    throw invalid('', 'is empty; write a host such as api.example.com');
  }
  if (/[\s\p{Cc}]/u.test(pattern)) {
    throw invalid(pattern, 'contains whitespace or control characters');
  }
  if (pattern.includes('://')) {
    throw invalid(
      pattern,
      'must not include a scheme; write api.example.com, not https://api.example.com',
    );
  }
  if (/[?#]/.test(pattern)) {
    throw invalid(
      pattern,
      'must not include a query (?) or fragment (#); paths are matched without the query',
    );
  }
  const slash = pattern.indexOf('/');
  const authority = slash < 0 ? pattern : pattern.slice(0, slash);
  const pathGlob = slash < 0 ? undefined : pattern.slice(slash);
  if (authority.includes('@')) {
    throw invalid(
      pattern,
      'must not include user information (user@); credentials belong in the vault',
    );
  }
  const { host, wildcard, port } = parseAuthority(pattern, authority);
  if (pathGlob !== undefined) checkPathGlob(pattern, pathGlob);
  const star = pathGlob?.indexOf('*') ?? -1;
  return {
    raw: pattern,
    host,
    wildcard,
    ...(port === undefined ? {} : { port }),
    ...(pathGlob === undefined ? {} : { pathGlob }),
    literalPathPrefix: pathGlob === undefined ? '' : star < 0 ? pathGlob : pathGlob.slice(0, star),
  };
}

/**
 * The one port a service is reached on: its pattern's, else its scheme's default. Undefined for
 * a stored pattern that no longer parses (such a service matches nothing).
 */
export function servicePort(service: { host: string; scheme: ServiceScheme }): number | undefined {
  const pattern = memoisedPattern(service.host);
  return pattern === null ? undefined : portOf(pattern, service.scheme);
}

/**
 * Whether a service accepts requests of this scheme and port at all (host and path aside): the
 * last check before its credential goes on a request.
 */
export function servesOrigin(
  service: { host: string; scheme: ServiceScheme },
  request: { scheme: ServiceScheme; port: number },
): boolean {
  return request.scheme === service.scheme && request.port === servicePort(service);
}

/** Whether `request` is for a service of `scheme` with pattern `p`. */
export function matchesHost(p: HostPattern, scheme: ServiceScheme, request: HostRequest): boolean {
  return matchesNormalized(p, scheme, normalizeRequest(request));
}

/**
 * The enabled service whose scheme, port and pattern match: exact host over wildcard (and among
 * wildcards, more labels over fewer), then a named port over the default one, then the longest
 * literal path prefix, then the lower `position`. Services with a pattern that no longer parses,
 * or a scheme other than http and https, are skipped.
 */
export function selectService<
  T extends { host: string; scheme: ServiceScheme; position: number; enabled: boolean },
>(services: readonly T[], request: HostRequest): T | undefined {
  const normalized = normalizeRequest(request);
  let best: { service: T; pattern: HostPattern } | undefined;
  for (const service of services) {
    if (!service.enabled) continue;
    const pattern = memoisedPattern(service.host);
    if (pattern === null || !matchesNormalized(pattern, service.scheme, normalized)) continue;
    // Ranked only against a competitor: usually one service matches.
    if (
      best === undefined ||
      compareRanks(rankOf(pattern, service.position), rankOf(best.pattern, best.service.position)) <
        0
    ) {
      best = { service, pattern };
    }
  }
  return best?.service;
}

/** Lower sorts first. */
function rankOf(p: HostPattern, position: number): number[] {
  const labels = p.host.split('.').length;
  return [
    p.wildcard ? 1 : 0,
    p.wildcard ? -labels : 0,
    p.port === undefined ? 1 : 0,
    -p.literalPathPrefix.length,
    position,
  ];
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

// Patterns come from a handful of stored services and are matched on every request: parse
// each raw string once. Bounded, so patterns of deleted services cannot pile up for ever.
const MEMO_LIMIT = 1000;
const memo = new Map<string, HostPattern | null>();
function memoisedPattern(raw: string): HostPattern | null {
  let pattern = memo.get(raw);
  if (pattern === undefined) {
    try {
      pattern = parseHostPattern(raw);
    } catch {
      pattern = null;
    }
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(raw, pattern);
  }
  return pattern;
}

interface NormalizedRequest {
  scheme: ServiceScheme;
  host: string;
  port: number;
  path: string;
}

function normalizeRequest(request: HostRequest): NormalizedRequest {
  let host = request.host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIpv6Literal(bare)) host = canonicalIpv6(bare);
  const cut = request.path.search(/[?#]/);
  const path = cut < 0 ? request.path : request.path.slice(0, cut);
  return { scheme: request.scheme, host, port: request.port, path: path === '' ? '/' : path };
}

function portOf(p: HostPattern, scheme: ServiceScheme): number {
  return p.port ?? DEFAULT_PORTS[scheme];
}

function matchesNormalized(
  p: HostPattern,
  scheme: ServiceScheme,
  request: NormalizedRequest,
): boolean {
  // Fails closed on a scheme this code does not know (DEFAULT_PORTS has no port for it).
  if (request.scheme !== scheme || request.port !== portOf(p, scheme)) return false;
  if (p.wildcard) {
    const suffix = p.host.slice(1); // `.example.com`
    if (!request.host.endsWith(suffix)) return false;
    const head = request.host.slice(0, -suffix.length);
    if (head === '' || head.split('.').includes('')) return false;
  } else if (request.host !== p.host) {
    return false;
  }
  if (p.pathGlob === undefined) return true;
  // `/v1/../admin` must not borrow the credential of a `/v1/**` service: upstreams resolve
  // dot segments (also encoded ones) after we matched.
  if (hasDotSegment(request.path)) return false;
  return globRegExp(p).test(request.path);
}

function hasDotSegment(path: string): boolean {
  return path
    .replace(/%2f|%5c|\\/gi, '/')
    .split('/')
    .some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}

const compiled = new WeakMap<HostPattern, RegExp>();
function globRegExp(p: HostPattern): RegExp {
  let regexp = compiled.get(p);
  if (regexp === undefined) {
    regexp = globToRegExp(p.pathGlob ?? '/**');
    compiled.set(p, regexp);
  }
  return regexp;
}

// `/a/*` matches one segment; `/a/**` matches `/a` and anything below it; `/a/**/b` matches
// `/a/b` and `/a/x/y/b`.
function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('/')
    .slice(1)
    .map((segment) =>
      segment === '**'
        ? '(?:/.*)?'
        : `/${segment
            .split('*')
            .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('[^/]*')}`,
    )
    .join('');
  return new RegExp(`^${source}$`);
}

function parseAuthority(
  pattern: string,
  authority: string,
): { host: string; wildcard: boolean; port?: number } {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) throw invalid(pattern, 'opens an IPv6 address with [ but never closes it');
    const address = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    if (!isIpv6Literal(address))
      throw invalid(pattern, `has [${address}], which is not an IPv6 address`);
    if (rest !== '' && !rest.startsWith(':')) {
      throw invalid(pattern, 'may have only :port after the IPv6 address');
    }
    const port = rest === '' ? undefined : parsePort(pattern, rest.slice(1));
    return { host: canonicalIpv6(address), wildcard: false, port };
  }
  if (/[[\]]/.test(authority)) throw invalid(pattern, 'has a stray [ or ]');
  const colons = authority.split(':').length - 1;
  if (colons > 1) throw invalid(pattern, 'must write an IPv6 address in brackets, e.g. [::1]:8443');
  const colon = authority.indexOf(':');
  const port = colon < 0 ? undefined : parsePort(pattern, authority.slice(colon + 1));
  const name = colon < 0 ? authority : authority.slice(0, colon);
  return { ...parseHostName(pattern, name), port };
}

function parseHostName(pattern: string, name: string): { host: string; wildcard: boolean } {
  if (name === '') throw invalid(pattern, 'has no host; write one such as api.example.com');
  if (name.length > MAX_HOST_LENGTH) {
    throw invalid(pattern, `has a host longer than ${MAX_HOST_LENGTH} characters`);
  }
  if (/[^\x21-\x7e]/.test(name)) {
    throw invalid(pattern, 'must use the punycode (xn--) form of an international domain name');
  }
  const host = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  const labels = host.split('.');
  const wildcard = labels[0] === '*';
  if (labels.some((label, i) => label.includes('*') && (i > 0 || label !== '*'))) {
    throw invalid(pattern, 'may use * only as the whole first label, e.g. *.example.com');
  }
  const named = wildcard ? labels.slice(1) : labels;
  if (named.length === 0) throw invalid(pattern, 'needs a domain after *., e.g. *.example.com');
  for (const label of named) {
    if (!LABEL.test(label)) {
      throw invalid(
        pattern,
        label === ''
          ? 'has an empty label (two dots in a row, or a leading dot)'
          : `has an invalid label "${label}": use letters, digits and inner hyphens, at most 63`,
      );
    }
  }
  const numeric = named.map((label) => /^[0-9]+$/.test(label));
  if (numeric.every(Boolean)) {
    if (wildcard) throw invalid(pattern, 'cannot combine * with an IP address');
    if (named.length !== 4 || !named.every((o) => IPV4_OCTET.test(o) && Number(o) <= 255)) {
      throw invalid(pattern, 'is not a valid IPv4 address (four numbers 0-255, no leading zeros)');
    }
  } else if (numeric[numeric.length - 1]) {
    throw invalid(
      pattern,
      'has an all-digit last label, which clients would read as an IP address',
    );
  }
  return { host, wildcard };
}

function parsePort(pattern: string, text: string): number {
  const port = /^[1-9][0-9]{0,4}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw invalid(pattern, `has port "${text}"; a port is a number from 1 to 65535`);
  }
  return port;
}

function checkPathGlob(pattern: string, glob: string): void {
  if (glob.length > MAX_PATH_LENGTH) {
    throw invalid(pattern, `has a path longer than ${MAX_PATH_LENGTH} characters`);
  }
  if (glob.split('/').some((segment) => segment.includes('**') && segment !== '**')) {
    throw invalid(pattern, 'may use ** only as a whole path segment, e.g. /v1/**/items');
  }
}

/** Plain addresses only: a zone (`fe80::1%eth0`) means nothing to another host. */
function isIpv6Literal(address: string): boolean {
  // Without a colon it is not IPv6: host names and IPv4 skip Node's long IPv6 expression.
  return address.includes(':') && /^[0-9a-f:.]+$/i.test(address) && isIPv6(address);
}

/** `[::1]` for `::1`, `0:0::1` and friends, so equal addresses compare equal. */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname;
}

function invalid(pattern: string, problem: string): GatewayError {
  const shown = pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern;
  return new GatewayError(
    'VEC_REQUEST_INVALID',
    `host pattern ${JSON.stringify(shown)} ${problem}`,
    {
      context: { field: 'host' },
    },
  );
}
