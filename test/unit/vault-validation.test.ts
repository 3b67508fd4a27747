/**
 * The input rules of the vault and identity models: what each accepts, and the field each
 * refusal names.
 */
import { isGatewayError } from '../../src/errors';
import { validateAdminRole, validateSessionTtl } from '../../src/identity/validation';
import {
  credentialReferences,
  templateKeys,
  validateAuthScheme,
  validateCredentialKey,
  validateCredentialValue,
  validateName,
  validateUnmatchedHosts,
} from '../../src/vault/validation';

/** The `field` of the VEC_REQUEST_INVALID that `fn` throws. */
function fieldOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    if (isGatewayError(error) && error.code === 'VEC_REQUEST_INVALID') return error.context.field;
    throw error;
  }
  throw new Error('expected VEC_REQUEST_INVALID, nothing was thrown');
}

describe('names', () => {
  it.each(['a', 'default', 'team-1', 'a.b_c-d', '0', 'x'.repeat(63)])('accepts %j', (name) => {
    expect(validateName(name)).toBe(name);
  });

  it.each(['', 'A', '-a', '.a', '_a', 'a b', 'a/b', 'é', 'x'.repeat(64), 7, null, undefined])(
    'refuses %j, naming the field',
    (name) => {
      expect(fieldOf(() => validateName(name))).toBe('name');
      expect(fieldOf(() => validateName(name, 'agent'))).toBe('agent');
    },
  );
});

describe('credential keys and values', () => {
  it.each(['A', '_', 'STRIPE_KEY', 'key_2', 'K'.repeat(128)])('accepts the key %j', (key) => {
    expect(validateCredentialKey(key)).toBe(key);
  });

  it.each(['', '2FA', 'A-B', 'A B', 'K'.repeat(129), 'ÄPI'])('refuses the key %j', (key) => {
    expect(fieldOf(() => validateCredentialKey(key))).toBe('key');
  });

  it('accepts values up to 64 KiB on one line, tabs and non-ASCII included', () => {
    for (const value of ['x', 'a\tb', 'pässwörd', 'x'.repeat(64 * 1024)]) {
      expect(validateCredentialValue(value)).toBe(value);
    }
  });

  it.each([
    ['empty', ''],
    ['CR LF (header injection)', 'token\r\nX-Injected: 1'],
    ['LF', 'a\nb'],
    ['CR', 'a\rb'],
    ['NUL', 'a\0b'],
    ['over 64 KiB', 'x'.repeat(64 * 1024 + 1)],
    ['over 64 KiB in UTF-8 bytes', 'é'.repeat(32 * 1024 + 1)],
    ['not a string', 42],
  ])('refuses a value that is %s, without echoing it', (_label, value) => {
    try {
      validateCredentialValue(value);
      throw new Error('accepted');
    } catch (error) {
      expect(isGatewayError(error) && error.context.field).toBe('value');
      if (typeof value === 'string' && value) expect((error as Error).message).not.toContain(value);
    }
  });
});

describe('auth schemes', () => {
  it.each([
    [{ type: 'bearer', credential: 'TOKEN' }, ['TOKEN']],
    [{ type: 'basic', username: 'U', password: 'P' }, ['U', 'P']],
    [{ type: 'api-key', header: 'X-Api-Key', credential: 'K' }, ['K']],
    [{ type: 'api-key', header: 'Authorization', credential: 'K', prefix: 'Token ' }, ['K']],
    [
      { type: 'custom', headers: { 'X-A': '{{A}}', 'X-B': 'id={{ B }};sig={{  A  }}' } },
      ['A', 'B', 'A'],
    ],
    [{ type: 'custom', headers: { 'X-Static': 'constant' } }, []],
    [{ type: 'query', param: 'api_key', credential: 'K' }, ['K']],
    [{ type: 'passthrough' }, []],
  ])('accepts %j, which names the credentials %j', (auth, keys) => {
    const checked = validateAuthScheme(auth);
    expect(checked).toEqual(auth);
    expect(credentialReferences(checked).map((r) => r.key)).toEqual(keys);
  });

  it.each([
    ['a string', 'bearer', 'auth'],
    ['null', null, 'auth'],
    ['an unknown type', { type: 'oauth2' }, 'auth.type'],
    ['no type', { credential: 'K' }, 'auth.type'],
    ['a bad credential key', { type: 'bearer', credential: 'not-a-key' }, 'auth.credential'],
    ['a missing credential key', { type: 'bearer' }, 'auth.credential'],
    ['a bad username key', { type: 'basic', username: '', password: 'P' }, 'auth.username'],
    ['a bad password key', { type: 'basic', username: 'U' }, 'auth.password'],
    ['a bad header name', { type: 'api-key', header: 'X Api', credential: 'K' }, 'auth.header'],
    [
      'a framing header',
      { type: 'api-key', header: 'Content-Length', credential: 'K' },
      'auth.header',
    ],
    ['the Host header', { type: 'api-key', header: 'host', credential: 'K' }, 'auth.header'],
    [
      'a gateway header',
      { type: 'api-key', header: 'X-Vectra-Error', credential: 'K' },
      'auth.header',
    ],
    [
      'a prefix with a line break',
      { type: 'api-key', header: 'X', credential: 'K', prefix: 'a\r\n' },
      'auth.prefix',
    ],
    ['an unknown field', { type: 'bearer', credential: 'K', extra: 1 }, 'auth.extra'],
    ['no custom headers', { type: 'custom', headers: {} }, 'auth.headers'],
    ['custom headers as a list', { type: 'custom', headers: ['X'] }, 'auth.headers'],
    [
      'a bad custom header name',
      { type: 'custom', headers: { 'Bad Name': '{{ K }}' } },
      'auth.headers.Bad Name',
    ],
    ['an unclosed placeholder', { type: 'custom', headers: { 'X-K': '{{ K' } }, 'auth.headers.X-K'],
    ['a stray closing brace', { type: 'custom', headers: { 'X-K': 'K }}' } }, 'auth.headers.X-K'],
    ['an empty placeholder', { type: 'custom', headers: { 'X-K': '{{ }}' } }, 'auth.headers.X-K'],
    [
      'a bad placeholder key',
      { type: 'custom', headers: { 'X-K': '{{ a-b }}' } },
      'auth.headers.X-K',
    ],
    [
      'a template line break',
      { type: 'custom', headers: { 'X-K': '{{ K }}\r\nX: 1' } },
      'auth.headers.X-K',
    ],
    [
      'the same header twice',
      { type: 'custom', headers: { 'X-K': '{{ K }}', 'x-k': '{{ K }}' } },
      'auth.headers.x-k',
    ],
    ['a bad query param', { type: 'query', param: 'a b', credential: 'K' }, 'auth.param'],
    ['no query param', { type: 'query', credential: 'K' }, 'auth.param'],
    ['fields on passthrough', { type: 'passthrough', credential: 'K' }, 'auth.credential'],
  ])('refuses %s, naming %s', (_label, auth, field) => {
    expect(fieldOf(() => validateAuthScheme(auth))).toBe(field);
  });

  it('names the header a template key comes from', () => {
    const refs = credentialReferences({ type: 'custom', headers: { 'X-Sig': '{{ SIG }}' } });
    expect(refs).toEqual([{ key: 'SIG', field: 'auth.headers.X-Sig' }]);
    expect(templateKeys('Bearer {{TOKEN}}', 'f')).toEqual(['TOKEN']);
  });
});

describe('other settings', () => {
  it('unmatchedHosts is passthrough or deny', () => {
    expect(validateUnmatchedHosts('deny')).toBe('deny');
    expect(validateUnmatchedHosts('passthrough')).toBe('passthrough');
    expect(fieldOf(() => validateUnmatchedHosts('allow'))).toBe('unmatchedHosts');
  });

  it('roles are owner, approver or auditor', () => {
    expect(validateAdminRole('approver')).toBe('approver');
    expect(fieldOf(() => validateAdminRole('admin'))).toBe('role');
  });

  it('session TTLs are whole seconds from 5 minutes to 7 days, 24 hours by default', () => {
    expect(validateSessionTtl(undefined)).toBe(86_400);
    expect(validateSessionTtl(300)).toBe(300);
    expect(validateSessionTtl(604_800)).toBe(604_800);
    for (const ttl of [299, 604_801, 300.5, '300', NaN, Infinity, -1]) {
      expect(fieldOf(() => validateSessionTtl(ttl))).toBe('ttlSeconds');
    }
  });
});
