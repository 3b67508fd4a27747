/**
 * Host patterns decide where a credential may be injected: every accepted form, every refusal
 * and every ordering rule of selectService has a row here.
 */
import { GatewayError } from '../../src/errors';
import {
  matchesHost,
  parseHostPattern,
  selectService,
  type HostPattern,
} from '../../src/vault/host-pattern';

describe('parseHostPattern accepts', () => {
  it.each<[string, Omit<HostPattern, 'raw'>]>([
    ['api.example.com', { host: 'api.example.com', wildcard: false, literalPathPrefix: '' }],
    ['API.Example.COM.', { host: 'api.example.com', wildcard: false, literalPathPrefix: '' }],
    ['localhost', { host: 'localhost', wildcard: false, literalPathPrefix: '' }],
    [
      'xn--bcher-kva.example',
      { host: 'xn--bcher-kva.example', wildcard: false, literalPathPrefix: '' },
    ],
    ['a-b.c0.example.com', { host: 'a-b.c0.example.com', wildcard: false, literalPathPrefix: '' }],
    ['*.example.com', { host: '*.example.com', wildcard: true, literalPathPrefix: '' }],
    ['*.Example.com.', { host: '*.example.com', wildcard: true, literalPathPrefix: '' }],
    [
      'api.example.com:8443',
      { host: 'api.example.com', wildcard: false, port: 8443, literalPathPrefix: '' },
    ],
    [
      'api.example.com:1',
      { host: 'api.example.com', wildcard: false, port: 1, literalPathPrefix: '' },
    ],
    [
      'api.example.com:65535',
      { host: 'api.example.com', wildcard: false, port: 65535, literalPathPrefix: '' },
    ],
    [
      'api.example.com/v1/*',
      { host: 'api.example.com', wildcard: false, pathGlob: '/v1/*', literalPathPrefix: '/v1/' },
    ],
    [
      'api.example.com/v1/users',
      {
        host: 'api.example.com',
        wildcard: false,
        pathGlob: '/v1/users',
        literalPathPrefix: '/v1/users',
      },
    ],
    [
      '*.example.com:443/v1/**/items',
      {
        host: '*.example.com',
        wildcard: true,
        port: 443,
        pathGlob: '/v1/**/items',
        literalPathPrefix: '/v1/',
      },
    ],
    [
      'api.example.com/',
      { host: 'api.example.com', wildcard: false, pathGlob: '/', literalPathPrefix: '/' },
    ],
    ['127.0.0.1', { host: '127.0.0.1', wildcard: false, literalPathPrefix: '' }],
    ['10.0.0.255:8080', { host: '10.0.0.255', wildcard: false, port: 8080, literalPathPrefix: '' }],
    ['[::1]', { host: '[::1]', wildcard: false, literalPathPrefix: '' }],
    ['[::1]:8443', { host: '[::1]', wildcard: false, port: 8443, literalPathPrefix: '' }],
    ['[0:0:0:0:0:0:0:1]', { host: '[::1]', wildcard: false, literalPathPrefix: '' }],
    [
      '[2001:DB8::A]:443/x',
      {
        host: '[2001:db8::a]',
        wildcard: false,
        port: 443,
        pathGlob: '/x',
        literalPathPrefix: '/x',
      },
    ],
  ])('%s', (raw, expected) => {
    expect(parseHostPattern(raw)).toEqual({ raw, ...expected });
  });

  it('a host of 253 characters', () => {
    const host = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(host).toHaveLength(253);
    expect(parseHostPattern(host).host).toBe(host);
  });
});

describe('parseHostPattern refuses', () => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`;
  it.each([
    ['empty', '', /is empty/],
    ['a scheme', 'https://api.example.com', /must not include a scheme/],
    ['userinfo', 'user@api.example.com', /user information/],
    ['userinfo with a password', 'user:pw@api.example.com', /user information/],
    ['* in a later label', 'api.*.example.com', /\* only as the whole first label/],
    ['* inside the first label', 'api*.example.com', /\* only as the whole first label/],
    ['** as the first label', '**.example.com', /\* only as the whole first label/],
    ['* alone', '*', /needs a domain/],
    ['*. alone', '*.', /needs a domain/],
    ['* in the port', 'api.example.com:*', /port/],
    ['a leading hyphen', '-api.example.com', /invalid label "-api"/],
    ['a trailing hyphen', 'api-.example.com', /invalid label "api-"/],
    ['an underscore', 'api_x.example.com', /invalid label/],
    ['a 64-character label', `${'a'.repeat(64)}.com`, /invalid label/],
    ['two dots in a row', 'api..example.com', /empty label/],
    ['a leading dot', '.example.com', /empty label/],
    ['port 0', 'api.example.com:0', /port "0"/],
    ['port 65536', 'api.example.com:65536', /from 1 to 65535/],
    ['an empty port', 'api.example.com:', /port ""/],
    ['a port with a leading zero', 'api.example.com:0443', /port/],
    ['a named port', 'api.example.com:https', /port/],
    ['a negative port', 'api.example.com:-1', /port/],
    ['no host before the port', ':8080', /has no host/],
    ['no host before the path', '/v1/users', /has no host/],
    ['a query', 'api.example.com/v1?x=1', /query/],
    ['a fragment', 'api.example.com/v1#top', /fragment/],
    ['a space inside', 'api example.com', /whitespace/],
    ['a trailing tab', 'api.example.com\t', /whitespace/],
    ['a leading space', ' api.example.com', /whitespace/],
    ['a newline in the path', 'api.example.com/v1\n', /whitespace/],
    ['a NUL', 'api.example.com\u0000', /control characters/],
    ['a host over 253 characters', long, /longer than 253/],
    ['a non-ASCII name', 'bücher.example', /punycode/],
    ['IPv6 without brackets', '::1', /in brackets/],
    ['an unclosed bracket', '[::1:8443', /never closes/],
    ['junk after the IPv6 address', '[::1]x', /only :port after/],
    ['a bad IPv6 address', '[zz::1]', /not an IPv6 address/],
    ['an IPv6 zone', '[fe80::1%25eth0]', /not an IPv6 address/],
    ['a bracket in a name', 'api[1].example.com', /stray \[/],
    ['three-part IPv4', '1.2.3', /not a valid IPv4/],
    ['an IPv4 octet over 255', '256.1.1.1', /not a valid IPv4/],
    ['an IPv4 leading zero', '01.2.3.4', /not a valid IPv4/],
    ['a numeric last label', 'example.123', /all-digit last label/],
    ['a wildcard over an IP address', '*.0.0.1', /cannot combine \* with an IP/],
    ['** inside a path segment', 'api.example.com/v1/**x', /\*\* only as a whole path segment/],
    ['*** in a path', 'api.example.com/***', /\*\* only as a whole path segment/],
  ])('%s', (_name, raw, message) => {
    let error: unknown;
    try {
      parseHostPattern(raw);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'VEC_REQUEST_INVALID', context: { field: 'host' } });
    expect((error as Error).message).toMatch(/^host pattern ".*" /);
    expect((error as Error).message).toMatch(message);
  });
});

describe('matchesHost', () => {
  it.each<[string, string, number, string, boolean]>([
    // host: case, trailing dot, look-alikes
    ['api.example.com', 'api.example.com', 443, '/', true],
    ['api.example.com', 'API.Example.COM', 443, '/', true],
    ['api.example.com', 'api.example.com.', 443, '/', true],
    ['API.EXAMPLE.COM.', 'api.example.com', 443, '/', true],
    ['api.example.com', 'xapi.example.com', 443, '/', false],
    ['api.example.com', 'api.example.com.evil.test', 443, '/', false],
    ['api.example.com', 'example.com', 443, '/', false],
    // wildcard: one or more labels, never the apex
    ['*.example.com', 'a.example.com', 443, '/', true],
    ['*.example.com', 'a.b.example.com', 443, '/', true],
    ['*.example.com', 'A.Example.COM.', 443, '/', true],
    ['*.example.com', 'example.com', 443, '/', false],
    ['*.example.com', 'example.com.', 443, '/', false],
    ['*.example.com', '.example.com', 443, '/', false],
    ['*.example.com', 'a..example.com', 443, '/', false],
    ['*.example.com', 'aexample.com', 443, '/', false],
    ['*.example.com', 'a.example.com.evil.test', 443, '/', false],
    // port: none in the pattern means the default port of the service's scheme (https: 443)
    ['api.example.com', 'api.example.com', 8443, '/', false],
    ['api.example.com', 'api.example.com', 80, '/', false],
    ['api.example.com:8443', 'api.example.com', 8443, '/', true],
    ['api.example.com:8443', 'api.example.com', 443, '/', false],
    ['*.example.com:443', 'a.example.com', 80, '/', false],
    // path globs; the query and fragment are ignored
    ['api.example.com/v1/users', 'api.example.com', 443, '/v1/users', true],
    ['api.example.com/v1/users', 'api.example.com', 443, '/v1/users?limit=10', true],
    ['api.example.com/v1/users', 'api.example.com', 443, '/v1/users/', false],
    ['api.example.com/v1/users', 'api.example.com', 443, '/V1/users', false],
    ['api.example.com/v1/*', 'api.example.com', 443, '/v1/users', true],
    ['api.example.com/v1/*', 'api.example.com', 443, '/v1/', true],
    ['api.example.com/v1/*', 'api.example.com', 443, '/v1/users/1', false],
    ['api.example.com/v1/*', 'api.example.com', 443, '/v1', false],
    ['api.example.com/v1/*', 'api.example.com', 443, '/v2/users', false],
    ['api.example.com/v1/*', 'api.example.com', 443, '/v1/users?next=/a/b', true],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1', true],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1/a/b/c', true],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1x', false],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1x/a', false],
    ['api.example.com/v1/**/items', 'api.example.com', 443, '/v1/items', true],
    ['api.example.com/v1/**/items', 'api.example.com', 443, '/v1/a/b/items', true],
    ['api.example.com/v1/**/items', 'api.example.com', 443, '/v1/a/items/x', false],
    ['api.example.com/files/*.json', 'api.example.com', 443, '/files/a.json', true],
    ['api.example.com/files/*.json', 'api.example.com', 443, '/files/ajson', false],
    ['api.example.com/files/*.json', 'api.example.com', 443, '/files/a/b.json', false],
    ['api.example.com/**', 'api.example.com', 443, '', true],
    ['api.example.com/**', 'api.example.com', 443, '?x=1', true],
    // dot segments must not widen a path-scoped credential
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1/../admin', false],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1/%2e%2E/admin', false],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1/./x', false],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1/..%2fadmin', false],
    ['api.example.com/v1/**', 'api.example.com', 443, '/v1/...', true],
    ['api.example.com', 'api.example.com', 443, '/v1/../admin', true],
    // IP literals
    ['127.0.0.1', '127.0.0.1', 443, '/', true],
    ['127.0.0.1', '127.0.0.1', 8080, '/', false],
    ['127.0.0.1', '127.0.0.2', 8080, '/', false],
    ['[::1]:8443', '::1', 8443, '/', true],
    ['[::1]:8443', '[::1]', 8443, '/', true],
    ['[::1]:8443', '0:0:0:0:0:0:0:1', 8443, '/', true],
    ['[::1]:8443', '::1', 443, '/', false],
    ['[::1]', '::2', 443, '/', false],
    ['[2001:db8::a]', '2001:DB8:0::A', 443, '/', true],
  ])('%s vs %s:%i%s → %s', (raw, host, port, path, expected) => {
    const request = { scheme: 'https' as const, host, port, path };
    expect(matchesHost(parseHostPattern(raw), 'https', request)).toBe(expected);
  });

  it.each<[string, string, 'http' | 'https', 'http' | 'https', number, boolean]>([
    // the scheme must be the service's, whatever the port
    ['api.example.com', 'api.example.com', 'https', 'https', 443, true],
    ['api.example.com', 'api.example.com', 'https', 'http', 443, false],
    ['api.example.com', 'api.example.com', 'https', 'http', 80, false],
    ['api.example.com:8080', 'api.example.com', 'https', 'http', 8080, false],
    ['api.example.com', 'api.example.com', 'http', 'http', 80, true],
    ['api.example.com', 'api.example.com', 'http', 'https', 80, false],
    ['api.example.com', 'api.example.com', 'http', 'https', 443, false],
    // no port: the scheme's default port only
    ['api.example.com', 'api.example.com', 'http', 'http', 443, false],
    ['api.example.com', 'api.example.com', 'http', 'http', 8080, false],
    ['api.example.com', 'api.example.com', 'https', 'https', 80, false],
    ['*.example.com', 'a.example.com', 'https', 'https', 8443, false],
    ['*.example.com', 'a.example.com', 'https', 'https', 443, true],
    ['[::1]', '[::1]', 'https', 'https', 443, true],
    ['[::1]', '[::1]', 'https', 'https', 8443, false],
    // a port: that port only
    ['api.example.com:8080', 'api.example.com', 'http', 'http', 8080, true],
    ['api.example.com:8080', 'api.example.com', 'http', 'http', 80, false],
    ['api.example.com:8443', 'api.example.com', 'https', 'https', 443, false],
    ['api.example.com:443', 'api.example.com', 'http', 'http', 443, true],
  ])(
    'pattern %s, host %s: %s service, %s request on %i → %s',
    (raw, host, serviceScheme, scheme, port, expected) => {
      const request = { scheme, host, port, path: '/' };
      expect(matchesHost(parseHostPattern(raw), serviceScheme, request)).toBe(expected);
    },
  );
});

interface Row {
  name: string;
  host: string;
  scheme: 'http' | 'https';
  position: number;
  enabled: boolean;
}

function services(
  ...specs: Array<
    [name: string, host: string, position?: number, enabled?: boolean, scheme?: 'http' | 'https']
  >
): Row[] {
  return specs.map(([name, host, position, enabled, scheme], i) => ({
    name,
    host,
    scheme: scheme ?? 'https',
    position: position ?? i,
    enabled: enabled ?? true,
  }));
}

const req = (host: string, port = 443, path = '/', scheme: 'http' | 'https' = 'https') => ({
  scheme,
  host,
  port,
  path,
});

describe('selectService', () => {
  it.each<[string, Row[], ReturnType<typeof req>, string | undefined]>([
    [
      'exact host beats wildcard, whatever the position',
      services(['wild', '*.example.com', 0], ['exact', 'api.example.com', 9]),
      req('api.example.com'),
      'exact',
    ],
    [
      'exact host beats a wildcard with port and path',
      services(['wild', '*.example.com:443/v1/**', 0], ['exact', 'api.example.com', 1]),
      req('api.example.com', 443, '/v1/x'),
      'exact',
    ],
    [
      'among wildcards, more labels beat fewer',
      services(['short', '*.example.com', 0], ['long', '*.api.example.com', 1]),
      req('x.api.example.com'),
      'long',
    ],
    [
      'more wildcard labels beat a port on fewer',
      services(['short', '*.example.com:443', 0], ['long', '*.api.example.com', 1]),
      req('x.api.example.com'),
      'long',
    ],
    [
      'the shorter wildcard still serves what the longer does not match',
      services(['short', '*.example.com', 0], ['long', '*.api.example.com', 1]),
      req('x.other.example.com'),
      'short',
    ],
    [
      'a port beats none (the default port, named)',
      services(['any', 'api.example.com', 0], ['port', 'api.example.com:443', 1]),
      req('api.example.com', 443),
      'port',
    ],
    [
      'a pattern with another port does not match at all',
      services(['any', 'api.example.com', 1], ['port', 'api.example.com:8443', 0]),
      req('api.example.com', 443),
      'any',
    ],
    [
      'a port beats a longer path',
      services(['path', 'api.example.com/v1/**', 0], ['port', 'api.example.com:443', 1]),
      req('api.example.com', 443, '/v1/x'),
      'port',
    ],
    [
      'the longest literal path prefix wins (exact path)',
      services(
        ['all', 'api.example.com/**', 0],
        ['v1', 'api.example.com/v1/*', 1],
        ['users', 'api.example.com/v1/users', 2],
      ),
      req('api.example.com', 443, '/v1/users'),
      'users',
    ],
    [
      'the longest literal path prefix wins (glob)',
      services(
        ['all', 'api.example.com/**', 0],
        ['v1', 'api.example.com/v1/*', 1],
        ['users', 'api.example.com/v1/users', 2],
      ),
      req('api.example.com', 443, '/v1/other'),
      'v1',
    ],
    [
      'a path pattern beats no path (length 0)',
      services(['plain', 'api.example.com', 0], ['v1', 'api.example.com/v1/**', 1]),
      req('api.example.com', 443, '/v1/x'),
      'v1',
    ],
    [
      'no path serves what the path pattern does not match',
      services(['plain', 'api.example.com', 1], ['v1', 'api.example.com/v1/**', 0]),
      req('api.example.com', 443, '/v2'),
      'plain',
    ],
    [
      'the query string is ignored when matching the path',
      services(['plain', 'api.example.com', 0], ['users', 'api.example.com/v1/users', 1]),
      req('api.example.com', 443, '/v1/users?limit=10&x=/v2'),
      'users',
    ],
    [
      'on a full tie, the lower position wins',
      services(['later', 'api.example.com', 5], ['earlier', 'API.example.com.', 2]),
      req('api.example.com'),
      'earlier',
    ],
    [
      'on a full tie, the lower position wins regardless of list order',
      services(['earlier', 'api.example.com', 2], ['later', 'api.example.com', 5]),
      req('api.example.com'),
      'earlier',
    ],
    [
      'disabled services are skipped',
      services(['off', 'api.example.com', 0, false], ['wild', '*.example.com', 1]),
      req('api.example.com'),
      'wild',
    ],
    [
      'only disabled matches: none',
      services(['off', 'api.example.com', 0, false]),
      req('api.example.com'),
      undefined,
    ],
    [
      'a wildcard never serves the apex',
      services(['wild', '*.example.com', 0]),
      req('example.com'),
      undefined,
    ],
    [
      'host case and trailing dot are ignored',
      services(['exact', 'api.example.com', 0]),
      req('API.EXAMPLE.COM.'),
      'exact',
    ],
    [
      'a stored pattern that no longer parses is skipped',
      services(['bad', 'https://api.example.com', 0], ['good', 'api.example.com', 1]),
      req('api.example.com'),
      'good',
    ],
    [
      'IPv6 with a port beats IPv6 without',
      services(['any', '[::1]', 0], ['port', '[::1]:8443', 1]),
      req('::1', 8443),
      'port',
    ],
    [
      'no service matches',
      services(['a', 'api.example.com', 0]),
      req('other.example.com'),
      undefined,
    ],
    ['an empty list', [], req('api.example.com'), undefined],
    [
      'an https service does not serve plain HTTP on its port',
      services(['tls', 'api.example.com:8080', 0]),
      req('api.example.com', 8080, '/', 'http'),
      undefined,
    ],
    [
      'an https service without a port does not serve another port',
      services(['tls', 'api.example.com', 0]),
      req('api.example.com', 8443),
      undefined,
    ],
    [
      'http and https services on one host each serve their own scheme (http)',
      services(['tls', 'api.example.com', 0], ['plain', 'api.example.com', 1, true, 'http']),
      req('api.example.com', 80, '/', 'http'),
      'plain',
    ],
    [
      'http and https services on one host each serve their own scheme (https)',
      services(['plain', 'api.example.com', 0, true, 'http'], ['tls', 'api.example.com', 1]),
      req('api.example.com', 443),
      'tls',
    ],
    [
      'a wildcard of the right scheme wins over an exact host of the wrong one',
      services(['plain', 'api.example.com', 0, true, 'http'], ['wild', '*.example.com', 1]),
      req('api.example.com'),
      'wild',
    ],
  ])('%s', (_name, list, request, expected) => {
    expect(selectService(list, request)?.name).toBe(expected);
    // Patterns are memoised: asking again gives the same answer.
    expect(selectService(list, request)?.name).toBe(expected);
  });

  it('returns the service object itself', () => {
    const list = services(['a', 'api.example.com']);
    expect(selectService(list, req('api.example.com'))).toBe(list[0]);
  });
});
