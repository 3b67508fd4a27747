/**
 * The `Key=Value;Key=Value` syntax of ADO.NET connection strings (SQLite's `Data Source=…`,
 * Npgsql's `Host=…;Password=…`), kept in the form users copy from .NET documentation.
 *
 * Rules (those of DbConnectionStringBuilder): pairs are separated by `;`; keys and unquoted
 * values are trimmed; a value may be wrapped in `"` or `'` to hold `;`, `=` or spaces, and the
 * quote itself is written twice inside (`Password="a;b""c"` is `a;b"c`); empty pairs are ignored.
 *
 * Error messages never repeat a value: the value that fails to parse may be a password.
 */

export interface KeyValuePair {
  /** The key as written (trimmed), for messages. */
  key: string;
  /** Lower case without spaces, so `User ID`, `UserId` and `userid` are one key. */
  normalizedKey: string;
  value: string;
}

const HINT = "if a value contains ';', wrap it in double quotes";

export function parseKeyValuePairs(text: string): KeyValuePair[] {
  const pairs: KeyValuePair[] = [];
  let i = 0;
  let part = 0;
  while (i < text.length) {
    part += 1;
    const equals = text.indexOf('=', i);
    const semicolon = text.indexOf(';', i);
    if (equals < 0 || (semicolon >= 0 && semicolon < equals)) {
      // A part without '='. Only whitespace is fine (e.g. a trailing ';').
      const end = semicolon < 0 ? text.length : semicolon;
      if (text.slice(i, end).trim() !== '') {
        throw new Error(`part ${part} is not Key=Value (${HINT})`);
      }
      i = end + 1;
      continue;
    }
    const key = text.slice(i, equals).trim();
    if (key === '') throw new Error(`part ${part} has a value but no key`);
    const { value, next } = readValue(text, equals + 1, key);
    pairs.push({ key, normalizedKey: normalizeKey(key), value });
    i = next;
  }
  return pairs;
}

export function normalizeKey(key: string): string {
  return key.replace(/\s+/g, '').toLowerCase();
}

/** Reads one value starting at `start`; `next` is the index after its terminating ';'. */
function readValue(text: string, start: number, key: string): { value: string; next: number } {
  let i = start;
  while (i < text.length && isBlank(text[i])) i += 1;
  const quote = text[i];
  if (quote !== '"' && quote !== "'") {
    const semicolon = text.indexOf(';', start);
    const end = semicolon < 0 ? text.length : semicolon;
    return { value: text.slice(start, end).trim(), next: end + 1 };
  }
  let value = '';
  i += 1;
  for (;;) {
    if (i >= text.length) throw new Error(`the value of ${key} has no closing ${quote}`);
    if (text[i] === quote) {
      if (text[i + 1] === quote) {
        value += quote;
        i += 2;
        continue;
      }
      i += 1;
      break;
    }
    value += text[i];
    i += 1;
  }
  while (i < text.length && isBlank(text[i])) i += 1;
  if (i < text.length && text[i] !== ';') {
    throw new Error(
      `unexpected text after the quoted value of ${key} (a quote inside a quoted value is written twice)`,
    );
  }
  return { value, next: i + 1 };
}

function isBlank(char: string): boolean {
  return char === ' ' || char === '\t' || char === '\r' || char === '\n';
}
