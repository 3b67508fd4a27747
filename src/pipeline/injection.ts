/**
 * How each auth scheme puts a credential on a request (the `inject` stage calls this once the
 * values are resolved). Injected values overwrite whatever the agent sent: every case-variant of
 * the header goes first, and a query parameter replaces every copy of itself, however encoded.
 * A value that would break the request line or a header (CR, LF, NUL, other control
 * characters) is refused rather than sent. Error messages name keys, never values.
 */
import { GatewayError } from '../errors';
import type { AuthScheme } from '../vault/types';
import { credentialReferences } from '../vault/validation';
import type { HeaderMap, ProxyRequest } from '../http/types';

/** `{{ KEY }}`, as the vault validates it (src/vault/validation.ts). */
const TEMPLATE_PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
/** What Node (and RFC 9110) accepts in a header value. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const LINE_BREAK_OR_NUL = /[\r\n\0]/;

/** The credential keys `auth` needs resolved, each once. */
export function credentialKeys(auth: AuthScheme): string[] {
  return [...new Set(credentialReferences(auth).map((reference) => reference.key))];
}

/** Removes `name` in every letter case. */
export function deleteHeader(headers: HeaderMap, name: string): void {
  const lower = name.toLowerCase();
  for (const key of Object.keys(headers)) if (key.toLowerCase() === lower) delete headers[key];
}

/** Sets `name` (lower-cased) to `value`, after removing every case-variant the agent sent. */
export function setHeader(headers: HeaderMap, name: string, value: string): void {
  deleteHeader(headers, name);
  headers[name.toLowerCase()] = value;
}

/**
 * Puts the credential of `auth` on `request` (headers or path), using the resolved `values`.
 * Returns every injected form of a secret (raw, base64, URL-encoded), so that the response can
 * be redacted of any of them.
 */
export function injectCredential(
  request: ProxyRequest,
  auth: AuthScheme,
  values: ReadonlyMap<string, string>,
): string[] {
  const secret = (key: string): string => {
    const value = values.get(key);
    if (value === undefined) {
      throw new GatewayError(
        'VEC_CREDENTIAL_NOT_FOUND',
        `The service names the credential "${key}", which the vault does not hold; set it or fix the service.`,
        { context: { key } },
      );
    }
    if (LINE_BREAK_OR_NUL.test(value)) throw unusable(credential(key), 'a line break or NUL');
    return value;
  };
  const header = (name: string, value: string, subject: string): void => {
    if (INVALID_HEADER_VALUE.test(value))
      throw unusable(subject, 'a character HTTP headers cannot carry');
    setHeader(request.headers, name, value);
  };

  switch (auth.type) {
    case 'bearer': {
      const token = secret(auth.credential);
      header('authorization', `Bearer ${token}`, credential(auth.credential));
      return [token];
    }
    case 'basic': {
      const username = secret(auth.username);
      const password = secret(auth.password);
      if (username.includes(':')) {
        throw unusable(credential(auth.username), "':', which a basic-auth user name cannot hold");
      }
      const encoded = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
      header('authorization', `Basic ${encoded}`, 'The basic-auth user name or password');
      return [username, password, encoded];
    }
    case 'api-key': {
      const key = secret(auth.credential);
      header(auth.header, `${auth.prefix ?? ''}${key}`, credential(auth.credential));
      return [key];
    }
    case 'custom': {
      const used: string[] = [];
      for (const [name, template] of Object.entries(auth.headers)) {
        const rendered = template.replace(TEMPLATE_PLACEHOLDER, (_match, key: string) => {
          const value = secret(key);
          used.push(value);
          return value;
        });
        header(name, rendered, `The header template ${name}`);
      }
      return used;
    }
    case 'query': {
      const value = secret(auth.credential);
      request.path = setQueryParameter(request.path, auth.param, value);
      return [value, encodeURIComponent(value)];
    }
    case 'passthrough':
      return [];
  }
}

/**
 * `path` with the query parameter `name` set to `value` (URL-encoded): the first copy is
 * replaced in place, later copies are dropped, and a copy whose name is percent-encoded
 * (`%6Bey=` for `key=`) counts as a copy, so the agent cannot smuggle in a second value.
 */
export function setQueryParameter(path: string, name: string, value: string): string {
  const mark = path.indexOf('?');
  const base = mark < 0 ? path : path.slice(0, mark);
  const parts = mark < 0 || mark === path.length - 1 ? [] : path.slice(mark + 1).split('&');
  const pair = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  const kept: string[] = [];
  let placed = false;
  for (const part of parts) {
    if (parameterName(part) !== name) kept.push(part);
    else if (!placed) {
      kept.push(pair);
      placed = true;
    }
  }
  if (!placed) kept.push(pair);
  return `${base}?${kept.join('&')}`;
}

function parameterName(part: string): string {
  const raw = part.split('=', 1)[0].replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function credential(key: string): string {
  return `The credential "${key}"`;
}

function unusable(subject: string, problem: string): GatewayError {
  return new GatewayError(
    'VEC_REQUEST_INVALID',
    `${subject} contains ${problem} and cannot be injected; store the credential again without it.`,
    { context: { field: 'credential' } },
  );
}
