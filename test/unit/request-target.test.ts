import {
  canonicalPath,
  parseAbsoluteForm,
  parseOriginForm,
  parseRequestTarget,
  separatorsDecoded,
} from '../../src/http/request-target';

/** The refusal of a request-target: VEC_REQUEST_INVALID, its message saying `why`. */
const invalid = (why: string) =>
  expect.objectContaining({ code: 'VEC_REQUEST_INVALID', message: expect.stringContaining(why) });

describe('canonical paths', () => {
  it.each([
    ['/a/b/c', '/a/b/c'],
    ['/', '/'],
    ['/a//b', '/a/b'],
    ['//admin/users', '/admin/users'],
    ['/a///', '/a/'],
    ['/a/./b/../c', '/a/c'],
    ['/a/./b/../c/', '/a/c/'],
    ['/a/b/..', '/a/'],
    ['/a/..', '/'],
    ['/../../etc', '/etc'],
    ['/a/%2e%2e/admin', '/admin'],
    ['/a/.%2E/admin', '/admin'],
    ['/%41%62%63', '/Abc'],
    ['/a/%7euser/%2f/%41', '/a/~user/%2F/A'],
    ['/a%2fb', '/a%2Fb'],
    ['/a/..%2F/admin', '/a/..%2F/admin'],
    ['/.hidden/x', '/.hidden/x'],
    ['/a;b=c/d', '/a;b=c/d'],
    ['/a\\b', '/a%5Cb'],
    ['/a"b{c}|d^e`f[g]<h>', '/a%22b%7Bc%7D%7Cd%5Ee%60f%5Bg%5D%3Ch%3E'],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/%e9t%C3%A9', '/%E9t%C3%A9'],
  ])('%s is %s', (raw, canonical) => {
    expect(canonicalPath(raw)).toBe(canonical);
    // Canonical paths are fixed points.
    expect(canonicalPath(canonical)).toBe(canonical);
  });

  it.each([
    ['/a%zz', 'two hex digits'],
    ['/a%4', 'two hex digits'],
    ['/a%', 'two hex digits'],
    ['/public/..;/admin', 'dot segment'],
    ['/public/.;x/admin', 'dot segment'],
    ['/public/%2e%2e;/admin', 'dot segment'],
    ['a/b', 'does not start with /'],
  ])('refuses %s', (raw, why) => {
    expect(() => canonicalPath(raw)).toThrow(invalid(why));
  });

  it.each([
    ['/files/a%2Fb', '/files/a/b'],
    ['/files/..%2F..%2Fadmin', '/admin'],
    ['/files/x%5C..%5C..%5Cadmin/', '/admin/'],
    ['/files/a%2F%2Fb', '/files/a/b'],
  ])('%s with its separators decoded is %s', (path, decoded) => {
    expect(separatorsDecoded(path)).toBe(decoded);
  });

  it('has no decoded view without encoded separators', () => {
    expect(separatorsDecoded('/files/a%20b')).toBeUndefined();
  });
});

describe('request-targets', () => {
  it('splits origin-form into the canonical path and the query as received', () => {
    expect(parseOriginForm('//admin/./users?x=%2e%2e&y=//')).toEqual({
      path: '/admin/users',
      query: '?x=%2e%2e&y=//',
    });
    expect(parseOriginForm('/?')).toEqual({ path: '/', query: '?' });
  });

  it.each([
    ['http://api.example.com/v1?x=1', 'http', 'api.example.com', 80, '/v1', '?x=1'],
    ['HTTPS://API.Example.COM./v1', 'https', 'api.example.com', 443, '/v1', ''],
    ['https://h.example:8443', 'https', 'h.example', 8443, '/', ''],
    ['http://h.example:?q', 'http', 'h.example', 80, '/', '?q'],
    ['http://127.0.0.1:8080//admin/x', 'http', '127.0.0.1', 8080, '/admin/x', ''],
    ['http://[::1]:81/a', 'http', '::1', 81, '/a', ''],
    ['http://[2001:DB8::1]/a', 'http', '2001:db8::1', 80, '/a', ''],
  ])('parses %s', (raw, scheme, host, port, path, query) => {
    expect(parseAbsoluteForm(raw)).toEqual({ scheme, host, port, path, query });
    expect(parseRequestTarget(raw)).toEqual({ scheme, host, port, path, query });
  });

  it('leaves targets that are not http(s) URLs to the caller', () => {
    for (const raw of ['ftp://h/x', 'h.example:443', 'mailto:x@y', '', 'http:/h/x']) {
      expect(parseAbsoluteForm(raw)).toBeUndefined();
    }
  });

  it.each([
    ['http://user:pw@h.example/x', 'userinfo'],
    ['http://@h.example/x', 'userinfo'],
    ['http:///x', 'host name'],
    ['http://h_ex ample/x', 'host name'],
    ['http://h%2eexample/x', 'host name'],
    ['http://0x7f.1/x', 'dotted-decimal'],
    ['http://127.1/x', 'dotted-decimal'],
    ['http://[::1/x', 'IPv6'],
    ['http://[::1]x/x', 'authority'],
    ['http://[fe80::1%25eth0]/x', 'IPv6'],
    ['http://h.example:0/x', 'port'],
    ['http://h.example:65536/x', 'port'],
    ['http://h.example:8o/x', 'port'],
    ['http://h.example/x#frag', 'fragment'],
    ['http://h.example/a%zz', 'hex'],
  ])('refuses %s', (raw, why) => {
    expect(() => parseAbsoluteForm(raw)).toThrow(invalid(why));
  });

  it.each([
    ['*', 'asterisk-form'],
    ['h.example:443', 'neither'],
    ['ftp://h/x', 'neither'],
  ])('refuses %s in any form', (raw, why) => {
    expect(() => parseRequestTarget(raw)).toThrow(invalid(why));
  });
});
