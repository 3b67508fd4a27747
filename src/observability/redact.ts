/**
 * What may leave the process in a log line: meta values under secret-looking keys are replaced,
 * Error objects become plain `{ name, message, code }` (with the stack only when debugging), and
 * whatever JSON cannot hold (cycles, BigInt, Map) is turned into something it can.
 */
import { format, type Logform } from 'winston';

export const REDACTED = '[REDACTED]';

/**
 * A key is secret when, lower-cased and without `-`, `_`, `.` and spaces, it contains one of
 * these. Substring matching catches `accessToken`, `x-api-key`, `clientSecret`, `set-cookie`;
 * it also hides harmless keys like `tokenCount`, which is the cheaper mistake.
 */
const SECRET_KEY_PARTS = [
  'authorization',
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'cookie',
  'connectionstring',
  'privatekey',
];
/** Too short to match as substrings (`author`, `keyboard`), so matched whole. */
const SECRET_KEYS = new Set(['auth']);

/** Deeper structures are cut: log meta is for people, not for dumping object graphs. */
const MAX_DEPTH = 8;

export interface SanitizeOptions {
  /** Keep `stack` on serialised errors (the logger does at Debug and Trace only). */
  includeStack: boolean;
}

export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[-_.\s]/g, '');
  return SECRET_KEYS.has(normalized) || SECRET_KEY_PARTS.some((part) => normalized.includes(part));
}

/** A copy of `value` that is safe to log and to `JSON.stringify`; `value` itself is not changed. */
export function sanitize(value: unknown, options: SanitizeOptions): unknown {
  return sanitizeAt(value, options, 0, new Set());
}

/** Sanitises the values of `record` in place (keys stay), redacting secret keys. */
export function sanitizeFields(
  record: Record<string, unknown>,
  keys: readonly string[],
  options: SanitizeOptions,
): void {
  for (const key of keys) {
    record[key] = isSecretKey(key) ? REDACTED : sanitize(record[key], options);
  }
}

function sanitizeAt(
  value: unknown,
  options: SanitizeOptions,
  depth: number,
  ancestors: Set<object>,
): unknown {
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';

  // Only the current path counts as a cycle: the same object twice side by side is fine.
  ancestors.add(value);
  try {
    return sanitizeObject(value, options, depth, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function sanitizeObject(
  value: object,
  options: SanitizeOptions,
  depth: number,
  ancestors: Set<object>,
): unknown {
  const next = (child: unknown): unknown => sanitizeAt(child, options, depth + 1, ancestors);
  if (value instanceof Error) return serializeError(value, options, next);
  if (Array.isArray(value)) return value.map(next);
  if (value instanceof Map)
    return redactEntries(
      [...value.entries()].map(([k, v]) => [String(k), v]),
      next,
    );
  if (value instanceof Set) return [...value].map(next);
  // Date, URL, Buffer and the like: log what JSON.stringify would, after the same checks.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    try {
      return next(toJSON.call(value));
    } catch {
      return '[Unserializable]';
    }
  }
  return redactEntries(Object.entries(value), next);
}

function redactEntries(
  entries: [string, unknown][],
  next: (child: unknown) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries) out[key] = isSecretKey(key) ? REDACTED : next(child);
  return out;
}

/**
 * `{ name, message, code, cause }`, and `stack` when asked. Other own properties (a
 * GatewayError's `context`, an HTTP client's request options) are left out on purpose: they are
 * where secrets hide.
 */
function serializeError(
  error: Error,
  options: SanitizeOptions,
  next: (child: unknown) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (options.includeStack && error.stack) out.stack = error.stack;
  if (error.cause !== undefined) out.cause = next(error.cause);
  return out;
}

/** Keys of a log event that are not meta: winston's own, set by the logger, never secret. */
export const EVENT_KEYS: ReadonlySet<string> = new Set(['level', 'message', 'timestamp']);

/** The winston format that applies all of the above to every event's meta. */
export function redaction(options: SanitizeOptions): Logform.Format {
  return format((info) => {
    const metaKeys = Object.keys(info).filter((key) => !EVENT_KEYS.has(key));
    sanitizeFields(info, metaKeys, options);
    return info;
  })();
}
