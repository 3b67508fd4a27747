/**
 * The fields a condition can read from PolicyInput, their short names from the seed format
 * (`method`, `path`, `headers.x`), and how a field name becomes a path into the document. Names
 * are resolved once when a policy loads; the hot path only walks the precomputed segments.
 */
import type { PolicyInput } from './types';

export interface FieldRef {
  /** Canonical dotted name (`request.headers.x-env`), used in explanations. */
  readonly name: string;
  /** Keys to walk from the document's root. */
  readonly segments: readonly string[];
  /**
   * request.method, request.host and request.scheme are normalised in the input (upper-case
   * method, lower-case host and scheme), so every string operator compares them ignoring case.
   */
  readonly caseInsensitive: boolean;
  /** The field reads the parsed body (the stage only buffers bodies some policy reads). */
  readonly readsBody: boolean;
}

const EXACT = new Set([
  'agent.name',
  'agent.id',
  'vault',
  'request.method',
  'request.scheme',
  'request.host',
  'request.port',
  'request.path',
  'request.bodySize',
  'request.body',
  'service.name',
  'time.hour',
  'time.weekday',
]);

/** Seed short names → canonical names; `query.`, `headers.`, `body.` prefixes map likewise. */
const ALIASES: Record<string, string> = {
  method: 'request.method',
  scheme: 'request.scheme',
  host: 'request.host',
  port: 'request.port',
  path: 'request.path',
  bodySize: 'request.bodySize',
  body: 'request.body',
  agent: 'agent.name',
  service: 'service.name',
  hour: 'time.hour',
  weekday: 'time.weekday',
};

const CASE_INSENSITIVE = new Set(['request.method', 'request.host', 'request.scheme']);

export const FIELD_HELP =
  'agent.name, agent.id, vault, request.method, request.scheme, request.host, request.port, request.path, request.query.<name>, request.headers.<name>, request.body[.<path>], request.bodySize, service.name, time.hour, time.weekday (or the short names method, path, host, headers.<name>, query.<name>, body.<path>, …)';

/** The field `text` names, or a message saying why it names none. */
export function resolveField(text: string): FieldRef | string {
  const name = canonicalName(text.trim());
  if (EXACT.has(name)) {
    return {
      name,
      segments: name.split('.'),
      caseInsensitive: CASE_INSENSITIVE.has(name),
      readsBody: name === 'request.body',
    };
  }
  for (const prefix of ['request.query.', 'request.headers.'] as const) {
    if (!name.startsWith(prefix)) continue;
    let key = name.slice(prefix.length);
    if (key === '') return `"${text}" needs a name after ${prefix}`;
    if (prefix === 'request.headers.') key = key.toLowerCase();
    return {
      name: prefix + key,
      segments: [...prefix.slice(0, -1).split('.'), key],
      caseInsensitive: false,
      readsBody: false,
    };
  }
  if (name.startsWith('request.body.')) {
    const path = name.slice('request.body.'.length).split('.');
    if (path.some((segment) => segment === '')) return `"${text}" has an empty segment`;
    return {
      name,
      segments: ['request', 'body', ...path],
      caseInsensitive: false,
      readsBody: true,
    };
  }
  return `"${text}" is not a field a condition can read (known: ${FIELD_HELP})`;
}

function canonicalName(text: string): string {
  if (ALIASES[text] !== undefined) return ALIASES[text];
  for (const prefix of ['query.', 'headers.', 'body.']) {
    if (text.startsWith(prefix)) return `request.${text}`;
  }
  return text;
}

/**
 * A reader for `segments`, made once per condition. The document's own structure (`request`,
 * `agent`, `time`, `service`, and their fixed fields) is built by Vectra, so it is read with
 * plain property access; a header, query or body name comes from the request, so past that
 * point only own properties are followed (readField), as everywhere else.
 */
export function fieldReader(segments: readonly string[]): (input: PolicyInput) => unknown {
  const [first, second, third] = segments;
  const fixed = segments.length === 2 && FIXED_SECOND.get(first)?.has(second) === true;
  if (segments.length === 1 && first === 'vault') return (input) => input.vault;
  if (fixed && first === 'request') {
    return (input) => (input.request as unknown as Record<string, unknown>)[second];
  }
  if (fixed && first === 'agent') return second === 'name' ? agentName : agentId;
  if (fixed && first === 'time') {
    return second === 'hour' ? (input) => input.time.hour : (input) => input.time.weekday;
  }
  if (fixed && first === 'service') return (input) => input.service?.name ?? undefined;
  if (
    segments.length === 3 &&
    first === 'request' &&
    (second === 'headers' || second === 'query')
  ) {
    return (input) => {
      const map = input.request[second] as Record<string, unknown> | undefined;
      return map !== undefined && Object.hasOwn(map, third) ? map[third] : undefined;
    };
  }
  return (input) => readField(input, segments);
}

/** Vectra's own two-level fields, by their first segment. */
const FIXED_SECOND: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['request', new Set(['method', 'scheme', 'host', 'port', 'path', 'bodySize'])],
  ['agent', new Set(['name', 'id'])],
  ['time', new Set(['hour', 'weekday'])],
  ['service', new Set(['name'])],
]);
const agentName = (input: PolicyInput): unknown => input.agent.name;
const agentId = (input: PolicyInput): unknown => input.agent.id;

/**
 * The value at `segments`, or undefined. Only own properties are followed, so `body.constructor`
 * or `body.__proto__` read nothing; a numeric segment indexes an array.
 */
export function readField(input: PolicyInput, segments: readonly string[]): unknown {
  let value: unknown = input;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object') return undefined;
    if (Array.isArray(value)) {
      if (!/^\d+$/.test(segment)) return undefined;
      value = value[Number(segment)];
    } else {
      if (!Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
      value = (value as Record<string, unknown>)[segment];
    }
  }
  return value;
}
