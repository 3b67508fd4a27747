/**
 * Redis connection strings in the two forms users bring along:
 *
 * - StackExchange.Redis (the seed's form): `redis:6379`,
 *   `host:port,password=…,user=…,ssl=true,defaultDatabase=2,connectTimeout=5000`
 *   (option names are case-insensitive; the port defaults to 6379; IPv6 as `[::1]:6379`);
 * - URLs: `redis://[user:password@]host[:port][/db]` and `rediss://…` (TLS).
 *
 * Errors never repeat the password: the string is a secret, so messages name the problem and,
 * at most, the option or host it concerns.
 */
import { isIPv6 } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

export const DEFAULT_REDIS_PORT = 6379;

/** What a connection string says, in ioredis' option names (assignable to `RedisOptions`). */
export interface RedisAddressOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: TlsOptions;
  connectTimeout?: number;
  connectionName?: string;
}

/** Parses either form; throws an Error whose message says what is wrong (never the password). */
export function parseRedisConnectionString(value: string): RedisAddressOptions {
  const text = value.trim();
  if (text === '') throw invalid('it is empty; use `host:port` or `redis://host:port`');
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? parseUrlForm(text) : parseOptionsForm(text);
}

/** `host:port` for messages and logs, IPv6 in brackets. */
export function describeRedisAddress(options: { host?: string; port?: number }): string {
  const host = options.host ?? 'localhost';
  return `${isIPv6(host) ? `[${host}]` : host}:${options.port ?? DEFAULT_REDIS_PORT}`;
}

/** The connection string with its password replaced by `***`, safe to log or show. */
export function redactRedisConnectionString(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value);
  if (scheme) {
    // The last `@` ends the user info even when an unencoded password holds `@` or `/`.
    const at = value.lastIndexOf('@');
    if (at < scheme[0].length) return value;
    const userInfo = value.slice(scheme[0].length, at);
    const colon = userInfo.indexOf(':');
    if (colon < 0) return value;
    return `${scheme[0]}${userInfo.slice(0, colon)}:***${value.slice(at)}`;
  }
  return value
    .split(',')
    .map((part) => (/^\s*password\s*=/i.test(part) ? part.replace(/=.*$/s, '=***') : part))
    .join(',');
}

const OPTION_NAMES = [
  'password',
  'user',
  'ssl',
  'sslHost',
  'defaultDatabase',
  'connectTimeout',
  'name',
  'abortConnect',
];

function parseOptionsForm(text: string): RedisAddressOptions {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  // A comma inside a password splits it, and its pieces would then read as an endpoint or an
  // option; what follows the password is therefore never quoted in a message.
  const passwordAt = parts.findIndex((part) => /^password\s*=/i.test(part));
  const quotable = (index: number): boolean => passwordAt < 0 || index < passwordAt;
  const endpoints = parts.filter((part) => !part.includes('='));
  if (endpoints.length === 0) throw invalid('it names no `host:port`');
  if (endpoints.length > 1) throw invalid('it names several endpoints; Vectra connects to one');
  if (!quotable(parts.indexOf(endpoints[0])) && !isEndpoint(endpoints[0])) {
    throw invalid(`the host:port after the password is not valid${COMMA_HINT}`);
  }
  const result: RedisAddressOptions = parseEndpoint(endpoints[0]);
  let ssl = false;
  let sslHost: string | undefined;

  for (const [index, part] of parts.entries()) {
    if (!part.includes('=')) continue;
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    switch (name.toLowerCase()) {
      case 'password':
        result.password = raw === '' ? undefined : raw;
        break;
      case 'user':
      case 'username':
        result.username = raw === '' ? undefined : raw;
        break;
      case 'ssl':
        ssl = parseBoolean(name, raw, quotable(index));
        break;
      case 'sslhost':
        sslHost = raw === '' ? undefined : raw;
        break;
      case 'defaultdatabase':
        result.db = parseInteger(name, raw, 0, quotable(index));
        break;
      case 'connecttimeout':
        result.connectTimeout = parseInteger(name, raw, 1, quotable(index));
        break;
      case 'name':
        result.connectionName = raw === '' ? undefined : raw;
        break;
      case 'abortconnect':
        // Accepted because hosted Redis offerings print it in their strings, but without
        // effect: Vectra always refuses to start when Redis does not answer (fail closed).
        parseBoolean(name, raw, quotable(index));
        break;
      default:
        if (!quotable(index)) throw invalid(`an unknown option follows the password${COMMA_HINT}`);
        throw invalid(`unknown option "${name}"; known options: ${OPTION_NAMES.join(', ')}`);
    }
  }
  if (ssl || sslHost) result.tls = sslHost ? { servername: sslHost } : {};
  return checkCredentials(result);
}

function parseUrlForm(text: string): RedisAddressOptions {
  const scheme = text.slice(0, text.indexOf(':')).toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw invalid(`unsupported scheme "${scheme}://"; use redis:// or rediss://`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The URL parser's own error carries the input, so it is not passed on.
    throw invalid('it is not a valid URL (percent-encode special characters in the password)');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalid('the URL names no host');
  const result: RedisAddressOptions = {
    host,
    port: url.port === '' ? DEFAULT_REDIS_PORT : parsePort(url.port),
  };
  const username = decode(url.username, 'user name');
  const password = decode(url.password, 'password');
  if (username !== '') result.username = username;
  if (password !== '') result.password = password;
  const database = url.pathname.replace(/^\//, '');
  if (database !== '') result.db = parseInteger('database (URL path)', database, 0);
  if (url.search !== '') throw invalid('query parameters are not supported in the URL');
  if (url.hash !== '') throw invalid('a URL fragment (#…) is not supported');
  if (scheme === 'rediss') result.tls = {};
  return checkCredentials(result);
}

const COMMA_HINT =
  ' (a password cannot hold a comma in this form; use redis://user:password@host:port ' +
  'with the password percent-encoded)';

function isEndpoint(endpoint: string): boolean {
  try {
    parseEndpoint(endpoint);
    return true;
  } catch {
    return false;
  }
}

function parseEndpoint(endpoint: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(endpoint);
  if (bracketed) {
    if (!isIPv6(bracketed[1])) throw invalid(`"${endpoint}" is not a valid IPv6 address`);
    return { host: bracketed[1], port: portOrDefault(bracketed[2]) };
  }
  const colons = endpoint.split(':').length - 1;
  if (colons > 1) throw invalid(`write the IPv6 address "${endpoint}" in brackets: [::1]:6379`);
  const [host, port] = endpoint.split(':');
  if (!/^[A-Za-z0-9._-]+$/.test(host)) throw invalid(`"${host}" is not a valid host name`);
  return { host, port: portOrDefault(port) };
}

function portOrDefault(port: string | undefined): number {
  return port === undefined || port === '' ? DEFAULT_REDIS_PORT : parsePort(port);
}

function parsePort(port: string): number {
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= 1 && n <= 65535)) throw invalid(`port "${port}" is not a number from 1 to 65535`);
  return n;
}

function parseInteger(name: string, raw: string, min: number, quote = true): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw invalid(
      `${name} must be a whole number of at least ${min}${quote ? `, not "${raw}"` : ''}`,
    );
  }
  return n;
}

function parseBoolean(name: string, raw: string, quote: boolean): boolean {
  const lower = raw.toLowerCase();
  if (lower !== 'true' && lower !== 'false') {
    throw invalid(`${name} must be true or false${quote ? `, not "${raw}"` : ''}`);
  }
  return lower === 'true';
}

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw invalid(`the ${what} is not validly percent-encoded`);
  }
}

function checkCredentials(result: RedisAddressOptions): RedisAddressOptions {
  // Redis ACL users authenticate with `AUTH user password`; a user alone cannot log in.
  if (result.username !== undefined && result.password === undefined) {
    throw invalid('a user needs a password');
  }
  return result;
}

function invalid(reason: string): Error {
  return new Error(`invalid Redis connection string: ${reason}`);
}
