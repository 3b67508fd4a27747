/**
 * Input rules for the vault model; names and `invalid` serve ../identity too. Every check throws
 * VEC_REQUEST_INVALID with `context.field` naming the offending field (`name`, `value`,
 * `auth.header`, …), so the admin API and the CLI can point at exactly what to fix. Checks
 * return the value they accept, typed.
 */
import { GatewayError } from '../errors';
import { NAME_PATTERN } from '../names';
import { parseHostPattern } from './host-pattern';
import {
  AUTH_SCHEME_TYPES,
  SERVICE_SCHEMES,
  type AuthScheme,
  type ServiceInput,
  type ServiceScheme,
  type UnmatchedHostPolicy,
} from './types';

/** Credential keys: environment-variable style, so templates (`{{ STRIPE_KEY }}`) read well. */
export const CREDENTIAL_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Credential values are injected into headers and query strings; 64 KiB is plenty. */
export const MAX_CREDENTIAL_BYTES = 64 * 1024;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** A query parameter name that needs no escaping. */
const QUERY_PARAM_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;
/** `{{ KEY }}` in a custom header template. */
const TEMPLATE_PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
/**
 * Headers a service may not set: framing and routing headers would let a credential change
 * where or how the request goes, and the gateway's own headers never reach upstream.
 */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
]);

export function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VEC_REQUEST_INVALID', message, { context: { field } });
}

/** A vault, agent, service or admin-token name. */
export function validateName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw invalid(
      field,
      `${field} must be 1 to 63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

export function validateCredentialKey(value: unknown, field = 'key'): string {
  if (typeof value !== 'string' || !CREDENTIAL_KEY_PATTERN.test(value)) {
    throw invalid(
      field,
      `${field} must be a credential key: 1 to 128 characters of A-Z, a-z, 0-9 or '_', not starting with a digit`,
    );
  }
  return value;
}

/** A credential value. The message never repeats the value. */
export function validateCredentialValue(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('value', 'value must be a non-empty string');
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_CREDENTIAL_BYTES) {
    throw invalid('value', `value must be at most ${MAX_CREDENTIAL_BYTES} bytes`);
  }
  // Values are injected into headers: CR/LF would split them (header injection), NUL ends them.
  if (/[\r\n\0]/.test(value)) {
    throw invalid('value', 'value must not contain line breaks (CR, LF) or NUL characters');
  }
  return value;
}

export function validateUnmatchedHosts(value: unknown): UnmatchedHostPolicy {
  if (value !== 'passthrough' && value !== 'deny') {
    throw invalid('unmatchedHosts', "unmatchedHosts must be 'passthrough' or 'deny'");
  }
  return value;
}

/** The scheme a service's credential goes over; lower case only, as stored and matched. */
export function validateServiceScheme(value: unknown): ServiceScheme {
  if (!SERVICE_SCHEMES.includes(value as ServiceScheme)) {
    throw invalid(
      'scheme',
      "scheme must be 'https' or 'http' (the credential is sent only over that scheme)",
    );
  }
  return value as ServiceScheme;
}

export function validateEnabled(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  return value;
}

export function validateHeaderName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !HEADER_NAME_PATTERN.test(value)) {
    throw invalid(field, `${field} must be a valid HTTP header name`);
  }
  const lower = value.toLowerCase();
  if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('x-vectra-')) {
    throw invalid(field, `${field} cannot be ${value}: the gateway controls that header`);
  }
  return value;
}

/** A credential key a scheme names, with the field that named it (for "missing credential"). */
export interface CredentialReference {
  key: string;
  field: string;
}

/** The credential keys referenced by `{{ KEY }}` placeholders; throws on a malformed template. */
export function templateKeys(template: unknown, field: string): string[] {
  if (typeof template !== 'string' || template.length === 0) {
    throw invalid(field, `${field} must be a non-empty header template such as "{{ API_KEY }}"`);
  }
  if (/[\r\n\0]/.test(template)) {
    throw invalid(field, `${field} must not contain line breaks or NUL characters`);
  }
  const keys: string[] = [];
  const rest = template.replace(TEMPLATE_PLACEHOLDER, (_match, key: string) => {
    keys.push(validateCredentialKey(key, field));
    return '';
  });
  if (rest.includes('{{') || rest.includes('}}')) {
    throw invalid(field, `${field} has an unclosed or malformed {{ KEY }} placeholder`);
  }
  return keys;
}

/** Checks a scheme and returns it with only its known fields (unknown fields are refused). */
export function validateAuthScheme(value: unknown): AuthScheme {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('auth', 'auth must be an object with a `type`');
  }
  const auth = value as Record<string, unknown>;
  const type = auth.type;
  if (!AUTH_SCHEME_TYPES.includes(type as never)) {
    throw invalid('auth.type', `auth.type must be one of ${AUTH_SCHEME_TYPES.join(', ')}`);
  }
  const allowed = (...fields: string[]): void => {
    for (const [field, v] of Object.entries(auth)) {
      if (v !== undefined && field !== 'type' && !fields.includes(field)) {
        throw invalid(
          `auth.${field}`,
          `auth.${field} is not a field of the ${String(type)} scheme`,
        );
      }
    }
  };
  const key = (field: string): string => validateCredentialKey(auth[field], `auth.${field}`);
  switch (type as AuthScheme['type']) {
    case 'bearer':
      allowed('credential');
      return { type: 'bearer', credential: key('credential') };
    case 'basic':
      allowed('username', 'password');
      return { type: 'basic', username: key('username'), password: key('password') };
    case 'api-key': {
      allowed('header', 'credential', 'prefix');
      const scheme: AuthScheme = {
        type: 'api-key',
        header: validateHeaderName(auth.header, 'auth.header'),
        credential: key('credential'),
      };
      if (auth.prefix !== undefined) scheme.prefix = validatePrefix(auth.prefix);
      return scheme;
    }
    case 'custom':
      allowed('headers');
      return { type: 'custom', headers: validateCustomHeaders(auth.headers) };
    case 'query':
      allowed('param', 'credential');
      if (typeof auth.param !== 'string' || !QUERY_PARAM_PATTERN.test(auth.param)) {
        throw invalid('auth.param', 'auth.param must be 1 to 128 of A-Z, a-z, 0-9, ., _, ~ or -');
      }
      return { type: 'query', param: auth.param, credential: key('credential') };
    case 'passthrough':
      allowed();
      return { type: 'passthrough' };
  }
}

/** Every credential key `auth` names, each with the field that named it. */
export function credentialReferences(auth: AuthScheme): CredentialReference[] {
  switch (auth.type) {
    case 'bearer':
    case 'api-key':
    case 'query':
      return [{ key: auth.credential, field: 'auth.credential' }];
    case 'basic':
      return [
        { key: auth.username, field: 'auth.username' },
        { key: auth.password, field: 'auth.password' },
      ];
    case 'custom':
      return Object.entries(auth.headers).flatMap(([name, template]) =>
        templateKeys(template, `auth.headers.${name}`).map((key) => ({
          key,
          field: `auth.headers.${name}`,
        })),
      );
    case 'passthrough':
      return [];
  }
}

function validatePrefix(value: unknown): string {
  if (typeof value !== 'string' || value.length > 256 || /[\r\n\0]/.test(value)) {
    throw invalid(
      'auth.prefix',
      'auth.prefix must be a string of at most 256 characters on one line',
    );
  }
  return value;
}

function validateCustomHeaders(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('auth.headers', 'auth.headers must map header names to templates');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0)
    throw invalid('auth.headers', 'auth.headers must name at least one header');
  const seen = new Set<string>();
  const headers: Record<string, string> = {};
  for (const [name, template] of entries) {
    const field = `auth.headers.${name}`;
    validateHeaderName(name, field);
    if (seen.has(name.toLowerCase())) throw invalid(field, `${field} is given twice`);
    seen.add(name.toLowerCase());
    templateKeys(template, field);
    headers[name] = template as string;
  }
  return headers;
}

/** The fields of a service given in `input`, checked (host pattern via parseHostPattern). */
export function validateServiceInput(input: Partial<ServiceInput>): Partial<ServiceInput> {
  const checked: Partial<ServiceInput> = {};
  if (input.name !== undefined) checked.name = validateName(input.name);
  if (input.host !== undefined) {
    if (typeof input.host !== 'string') throw invalid('host', 'host must be a host pattern');
    parseHostPattern(input.host); // throws VEC_REQUEST_INVALID naming `host`
    checked.host = input.host;
  }
  if (input.scheme !== undefined) checked.scheme = validateServiceScheme(input.scheme);
  if (input.auth !== undefined) checked.auth = validateAuthScheme(input.auth);
  if (input.enabled !== undefined) checked.enabled = validateEnabled(input.enabled);
  return checked;
}
