import { isSecretKey, REDACTED, sanitize } from '../../src/observability/redact';

describe('isSecretKey', () => {
  it.each([
    'authorization',
    'Proxy-Authorization',
    'password',
    'PASSWD',
    'secret',
    'clientSecret',
    'token',
    'accessToken',
    'apikey',
    'api_key',
    'X-Api-Key',
    'cookie',
    'Set-Cookie',
    'connectionString',
    'ConnectionString',
    'privateKey',
    'auth',
  ])('treats %s as secret', (key) => expect(isSecretKey(key)).toBe(true));

  it.each(['author', 'host', 'method', 'requestId', 'code', 'keyboard', 'status'])(
    'leaves %s alone',
    (key) => expect(isSecretKey(key)).toBe(false),
  );
});

describe('sanitize', () => {
  const options = { includeStack: false };

  it('redacts inside maps and keeps the same object twice side by side', () => {
    const shared = { host: 'a' };
    expect(sanitize({ m: new Map([['token', 'x']]), a: shared, b: shared }, options)).toEqual({
      m: { token: REDACTED },
      a: { host: 'a' },
      b: { host: 'a' },
    });
  });

  it('logs what JSON would for dates and URLs', () => {
    const date = new Date('2025-01-02T03:04:05.000Z');
    expect(sanitize({ date, url: new URL('https://example.com/x') }, options)).toEqual({
      date: '2025-01-02T03:04:05.000Z',
      url: 'https://example.com/x',
    });
  });

  it('cuts structures deeper than it is worth logging', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i += 1) deep = { deep };
    expect(JSON.stringify(sanitize(deep, options))).toContain('[Truncated]');
  });
});
