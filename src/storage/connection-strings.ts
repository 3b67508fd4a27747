/**
 * Connection strings in their ecosystem forms (DESIGN.md, Configuration):
 *   SQLite      `Data Source=/data/vectra.db`
 *   PostgreSQL  `Host=db;Port=5432;Database=vectra;Username=u;Password=p` (Npgsql keys)
 *               or `postgres://u:p@db:5432/vectra?sslmode=require` (libpq URL)
 *
 * Parsers throw a plain Error whose message names the problem and never the password (nor
 * any other value, which could be a piece of a badly quoted password); the caller turns it
 * into a configuration problem. SSL modes keep libpq/Npgsql meanings in both forms.
 */
import { isAbsolute, resolve } from 'node:path';
import type { PoolConfig } from 'pg';
import { parseKeyValuePairs } from './key-value-pairs';

export interface SqliteConnection {
  /** Absolute path, or `:memory:`. */
  filename: string;
  inMemory: boolean;
}

export interface PostgresConnection {
  config: PoolConfig;
  /** `host:port/database`, for messages and logs; never holds the password. */
  target: string;
  /** Things to log at start-up, e.g. that `SSL Mode=Prefer` connects without TLS. */
  warnings: string[];
}

/** Npgsql's default `Timeout` (15 s): start-up must not hang on an unreachable server. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

const SQLITE_KEYS = new Set(['datasource', 'filename']);

export function parseSqliteConnectionString(
  text: string,
  cwd: string = process.cwd(),
): SqliteConnection {
  if (text.trim() === '')
    throw new Error('SQLite connection string is empty; expected Data Source=<path>');
  if (!text.includes('='))
    throw new Error('SQLite connection string must look like Data Source=<path>');
  let filename: string | undefined;
  for (const pair of parseKeyValuePairs(text)) {
    if (!SQLITE_KEYS.has(pair.normalizedKey)) {
      throw new Error(
        `SQLite connection string: unknown key "${pair.key}"; supported: Data Source (DataSource, Filename)`,
      );
    }
    if (filename !== undefined)
      throw new Error('SQLite connection string: Data Source is given twice');
    filename = pair.value;
  }
  if (!filename) throw new Error('SQLite connection string: Data Source is missing or empty');
  if (filename === ':memory:') return { filename, inMemory: true };
  return { filename: isAbsolute(filename) ? filename : resolve(cwd, filename), inMemory: false };
}

type PostgresSetting =
  | 'Host'
  | 'Port'
  | 'Database'
  | 'Username'
  | 'Password'
  | 'SSL Mode'
  | 'Timeout'
  | 'Command Timeout'
  | 'Maximum Pool Size'
  | 'Minimum Pool Size'
  | 'Application Name';

/** Npgsql keywords and their aliases, normalised (lower case, no spaces). */
const POSTGRES_KEYS: Record<string, PostgresSetting> = {
  host: 'Host',
  server: 'Host',
  port: 'Port',
  database: 'Database',
  db: 'Database',
  username: 'Username',
  user: 'Username',
  userid: 'Username',
  uid: 'Username',
  password: 'Password',
  pwd: 'Password',
  psw: 'Password',
  sslmode: 'SSL Mode',
  timeout: 'Timeout',
  commandtimeout: 'Command Timeout',
  maximumpoolsize: 'Maximum Pool Size',
  maxpoolsize: 'Maximum Pool Size',
  minimumpoolsize: 'Minimum Pool Size',
  minpoolsize: 'Minimum Pool Size',
  applicationname: 'Application Name',
};

const SUPPORTED_POSTGRES_KEYS =
  'Host (Server), Port, Database (DB), Username (User ID, UserId, User, UID), Password (Pwd, PSW), ' +
  'SSL Mode (SslMode), Timeout, Command Timeout, Maximum Pool Size (Max Pool Size), ' +
  'Minimum Pool Size (Min Pool Size), Application Name';

const URL_FORM = /^postgres(?:ql)?:\/\//i;

export function parsePostgresConnectionString(text: string): PostgresConnection {
  if (text.trim() === '') {
    throw new Error(
      'PostgreSQL connection string is empty; expected Host=…;Database=…;Username=…;Password=… or postgres://…',
    );
  }
  const trimmed = text.trim();
  if (URL_FORM.test(trimmed)) return parsePostgresUrl(trimmed);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new Error(
      'PostgreSQL connection string: a URL must start with postgres:// or postgresql://',
    );
  }
  if (!trimmed.includes('=')) {
    throw new Error(
      'PostgreSQL connection string must be Host=…;Database=…;Username=…;Password=… or postgres://…',
    );
  }
  return parseNpgsql(trimmed);
}

function parseNpgsql(text: string): PostgresConnection {
  const values = new Map<PostgresSetting, string>();
  let previous: PostgresSetting | undefined;
  for (const pair of parseKeyValuePairs(text)) {
    const setting = POSTGRES_KEYS[pair.normalizedKey];
    if (!setting) {
      // Right after the password, an "unknown key" may be the rest of an unquoted password.
      const name = previous === 'Password' ? 'after Password' : `"${pair.key}"`;
      throw new Error(
        `PostgreSQL connection string: unknown key ${name} (a value containing ';' must be in double quotes); supported: ${SUPPORTED_POSTGRES_KEYS}`,
      );
    }
    if (values.has(setting))
      throw new Error(`PostgreSQL connection string: ${setting} is given twice`);
    values.set(setting, pair.value);
    previous = setting;
  }
  const host = values.get('Host');
  if (!host) throw new Error('PostgreSQL connection string: Host is missing');
  if (host.includes(','))
    throw new Error('PostgreSQL connection string: several hosts in Host are not supported');

  const warnings: string[] = [];
  const config: PoolConfig = { host, connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS };
  const port = values.get('Port');
  if (port !== undefined) config.port = parsePort(port, 'Port');
  if (values.get('Database')) config.database = values.get('Database');
  if (values.get('Username')) config.user = values.get('Username');
  if (values.has('Password')) config.password = values.get('Password');
  const sslMode = values.get('SSL Mode');
  if (sslMode !== undefined) config.ssl = sslFromMode(sslMode, 'SSL Mode', warnings);
  const timeout = values.get('Timeout');
  if (timeout !== undefined)
    config.connectionTimeoutMillis = parseSeconds(timeout, 'Timeout') * 1000;
  const commandTimeout = values.get('Command Timeout');
  if (commandTimeout !== undefined) {
    config.statement_timeout = parseSeconds(commandTimeout, 'Command Timeout') * 1000;
  }
  const max = values.get('Maximum Pool Size');
  if (max !== undefined) config.max = parseCount(max, 'Maximum Pool Size', 1);
  const min = values.get('Minimum Pool Size');
  if (min !== undefined) config.min = parseCount(min, 'Minimum Pool Size', 0);
  if (config.min !== undefined && config.max !== undefined && config.min > config.max) {
    throw new Error(
      'PostgreSQL connection string: Minimum Pool Size is larger than Maximum Pool Size',
    );
  }
  if (values.get('Application Name')) config.application_name = values.get('Application Name');
  return { config, target: targetOf(config), warnings };
}

function parsePostgresUrl(text: string): PostgresConnection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`PostgreSQL connection string: ${describeBadUrl(text)}`);
  }
  const warnings: string[] = [];
  const config: PoolConfig = { connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS };
  try {
    if (url.hostname) config.host = decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'));
    if (url.port) config.port = Number(url.port);
    if (url.username) config.user = decodeURIComponent(url.username);
    if (url.password) config.password = decodeURIComponent(url.password);
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (database) config.database = database;
  } catch {
    throw new Error('PostgreSQL connection string: a %-escape in the URL is malformed');
  }
  for (const [name, value] of url.searchParams) {
    switch (name) {
      case 'sslmode':
        config.ssl = sslFromMode(value, 'sslmode', warnings);
        break;
      case 'connect_timeout':
        config.connectionTimeoutMillis = parseSeconds(value, 'connect_timeout') * 1000;
        break;
      case 'application_name':
        config.application_name = value;
        break;
      case 'host':
        config.host = value;
        break;
      case 'port':
        config.port = parsePort(value, 'port');
        break;
      case 'dbname':
        config.database = value;
        break;
      case 'user':
        config.user = value;
        break;
      case 'password':
        config.password = value;
        break;
      default:
        throw new Error(
          `PostgreSQL connection string: unknown URL parameter "${name}"; supported: sslmode, connect_timeout, application_name, host, port, dbname, user, password`,
        );
    }
  }
  return { config, target: targetOf(config), warnings };
}

/** Says why `new URL` refused, looking only at what follows the last '@' (never the password). */
function describeBadUrl(text: string): string {
  const afterScheme = text.replace(URL_FORM, '');
  const hostPart = afterScheme.slice(afterScheme.lastIndexOf('@') + 1).split(/[/?#]/)[0];
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPart)?.[1];
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port)) return 'the port in the URL is not a number';
    if (Number(port) > 65535) return 'the port in the URL is larger than 65535';
  }
  return 'not a valid URL (percent-encode special characters in the user name and password, e.g. @ as %40)';
}

/** libpq/Npgsql SSL modes; `VerifyFull` and `verify-full` are the same mode. */
function sslFromMode(mode: string, label: string, warnings: string[]): PoolConfig['ssl'] {
  switch (mode.replace(/[\s_-]/g, '').toLowerCase()) {
    case 'disable':
      return false;
    case 'allow':
    case 'prefer':
      // node-postgres cannot try TLS and fall back, so these connect in plain text, like a
      // server without TLS would under libpq. Say so rather than failing or guessing.
      warnings.push(`${label}=${mode} connects without TLS; use Require or VerifyFull to encrypt`);
      return false;
    case 'require':
      // libpq and Npgsql (8+): encrypted, certificate not checked.
      return { rejectUnauthorized: false };
    case 'verifyca':
      // Chain checked against trusted CAs (NODE_EXTRA_CA_CERTS adds one); host name not checked.
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verifyfull':
      return { rejectUnauthorized: true };
    default:
      throw new Error(
        `PostgreSQL connection string: ${label} must be one of Disable, Allow, Prefer, Require, VerifyCA, VerifyFull`,
      );
  }
}

function parsePort(value: string, label: string): number {
  const trimmed = value.trim();
  const port = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new Error(`PostgreSQL connection string: ${label} must be a number between 1 and 65535`);
  }
  return port;
}

function parseSeconds(value: string, label: string): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed))
    throw new Error(`PostgreSQL connection string: ${label} must be a whole number of seconds`);
  return Number(trimmed);
}

function parseCount(value: string, label: string, minimum: number): number {
  const trimmed = value.trim();
  const count = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!(count >= minimum))
    throw new Error(`PostgreSQL connection string: ${label} must be a whole number ≥ ${minimum}`);
  return count;
}

function targetOf(config: PoolConfig): string {
  return `${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? '(default database)'}`;
}

// A quoted value (closed or not), then anything up to the next ';' in case the quoting is broken.
const PASSWORD_PAIR =
  /(^|;)(\s*(?:password|pwd|psw)\s*=\s*)(?:"(?:[^"]|"")*"?|'(?:[^']|'')*'?)?[^;]*/gi;

/**
 * Masks the password of either form, for logs and `config show`. Works on malformed strings
 * too, erring on the side of masking more.
 */
export function redactConnectionString(text: string): string {
  if (/^\s*[a-z][a-z0-9+.-]*:\/\//i.test(text)) return redactUrl(text);
  return text.replace(PASSWORD_PAIR, (_match, start: string, key: string) => `${start}${key}***`);
}

function redactUrl(text: string): string {
  const schemeEnd = text.indexOf('://') + 3;
  let rest = text.slice(schemeEnd);
  // The user info ends at the last '@': an unencoded '@' in a password would otherwise leak.
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userInfo = rest.slice(0, at);
    const colon = userInfo.indexOf(':');
    if (colon >= 0) rest = `${userInfo.slice(0, colon)}:***${rest.slice(at)}`;
  }
  rest = rest.replace(/([?&]password=)[^&#]*/gi, '$1***');
  return text.slice(0, schemeEnd) + rest;
}
