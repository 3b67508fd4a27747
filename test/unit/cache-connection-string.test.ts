import {
  describeRedisAddress,
  parseRedisConnectionString,
  redactRedisConnectionString,
} from '../../src/cache/connection-string';

const SECRET = 'S3cr3t-Pa55';

function parseError(value: string): string {
  try {
    parseRedisConnectionString(value);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

describe('parseRedisConnectionString, StackExchange.Redis form', () => {
  it('reads the seed default `redis:6379`', () => {
    expect(parseRedisConnectionString('redis:6379')).toEqual({ host: 'redis', port: 6379 });
  });

  it('defaults the port to 6379', () => {
    expect(parseRedisConnectionString('cache.internal')).toEqual({
      host: 'cache.internal',
      port: 6379,
    });
  });

  it('reads every option, names case-insensitive', () => {
    expect(
      parseRedisConnectionString(
        `10.0.0.5:6380, Password=${SECRET},USER=vectra,ssl=True,defaultDatabase=2,connectTimeout=750,name=gw`,
      ),
    ).toEqual({
      host: '10.0.0.5',
      port: 6380,
      password: SECRET,
      username: 'vectra',
      tls: {},
      db: 2,
      connectTimeout: 750,
      connectionName: 'gw',
    });
  });

  it('keeps `=` inside a password and sets the TLS server name from sslHost', () => {
    expect(parseRedisConnectionString('h:1,password=a=b==,sslHost=redis.example.com')).toEqual({
      host: 'h',
      port: 1,
      password: 'a=b==',
      tls: { servername: 'redis.example.com' },
    });
  });

  it('accepts abortConnect as hosted providers print it, without effect', () => {
    expect(parseRedisConnectionString('h:6380,ssl=true,abortConnect=False')).toEqual({
      host: 'h',
      port: 6380,
      tls: {},
    });
  });

  it('reads IPv6 addresses in brackets, with or without a port', () => {
    expect(parseRedisConnectionString('[::1]:6390')).toEqual({ host: '::1', port: 6390 });
    expect(parseRedisConnectionString('[fe80::1]')).toEqual({ host: 'fe80::1', port: 6379 });
  });

  it.each([
    ['', /empty/],
    ['password=x', /no `host:port`/],
    ['a:1,b:2', /several endpoints/],
    ['redis:0', /port "0"/],
    ['redis:65536', /port "65536"/],
    ['redis:63a9', /port "63a9"/],
    ['::1', /brackets/],
    ['[nope]:1', /IPv6/],
    ['bad host:1', /host name/],
    ['redis:6379,ssl=yes', /ssl must be true or false/],
    ['redis:6379,defaultDatabase=-1', /defaultDatabase must be a whole number/],
    ['redis:6379,connectTimeout=0', /connectTimeout must be a whole number of at least 1/],
    ['redis:6379,defaultDb=2', /unknown option "defaultDb"; known options: password, user/],
    ['redis:6379,user=vectra', /user needs a password/],
  ])('rejects %j', (value, message) => {
    expect(parseError(value)).toMatch(message);
  });
});

describe('parseRedisConnectionString, URL form', () => {
  it('reads redis://user:password@host:port/db, percent-decoding the credentials', () => {
    expect(parseRedisConnectionString(`redis://vectra:${SECRET}%40x@cache:6380/3`)).toEqual({
      host: 'cache',
      port: 6380,
      username: 'vectra',
      password: `${SECRET}@x`,
      db: 3,
    });
  });

  it('reads a password without a user, and defaults port and database', () => {
    expect(parseRedisConnectionString(`redis://:${SECRET}@cache`)).toEqual({
      host: 'cache',
      port: 6379,
      password: SECRET,
    });
    expect(parseRedisConnectionString('redis://cache/')).toEqual({ host: 'cache', port: 6379 });
  });

  it('turns TLS on for rediss://', () => {
    expect(parseRedisConnectionString('rediss://cache:6380')).toEqual({
      host: 'cache',
      port: 6380,
      tls: {},
    });
  });

  it('reads IPv6 hosts', () => {
    expect(parseRedisConnectionString('redis://[::1]:6390/1')).toEqual({
      host: '::1',
      port: 6390,
      db: 1,
    });
  });

  it.each([
    ['http://cache:6379', /unsupported scheme "http:\/\/"/],
    ['redis://cache:99999', /not a valid URL/],
    ['redis://cache/abc', /database \(URL path\) must be a whole number/],
    ['redis://cache?family=6', /query parameters/],
    ['redis://cache#x', /fragment/],
    ['redis://vectra@cache', /user needs a password/],
    ['redis://:%E0%A4%A@cache', /password is not validly percent-encoded/],
  ])('rejects %j', (value, message) => {
    expect(parseError(value)).toMatch(message);
  });
});

describe('connection string errors never show the password', () => {
  it.each([
    `redis:6379,password=${SECRET},bogus=1`,
    `redis:6379,password=${SECRET},ssl=maybe`,
    `redis:63a79,password=${SECRET}`,
    // A comma inside the password splits it; its pieces must not be quoted either.
    `redis:6379,password=${SECRET},${SECRET}=x`,
    `redis:6379,password=ab,${SECRET}`,
    `redis:6379,password=ab,${SECRET},ssl=true`,
    `redis://u:${SECRET}@cache:1/x`,
    `redis://u:${SECRET}@cache?x=1`,
    `redis://u:${SECRET}@ca che:1`,
    `redis://u:${SECRET}@cache:0x1`,
  ])('%j', (value) => {
    const message = parseError(value);
    expect(message).toMatch(/^invalid Redis connection string: /);
    expect(message).not.toContain(SECRET);
  });
});

describe('redactRedisConnectionString', () => {
  it.each([
    [`redis:6379,password=${SECRET},ssl=true`, 'redis:6379,password=***,ssl=true'],
    [`redis:6379, PASSWORD = ${SECRET}`, 'redis:6379, PASSWORD =***'],
    [`redis://vectra:${SECRET}@cache:6379/2`, 'redis://vectra:***@cache:6379/2'],
    [`rediss://:${SECRET}@cache`, 'rediss://:***@cache'],
    // Unencoded `@` and `/` in a password: the last `@` still ends the user info.
    [`redis://u:a@b/${SECRET}@cache:1`, 'redis://u:***@cache:1'],
    ['redis://cache:6379', 'redis://cache:6379'],
    ['redis://vectra@cache', 'redis://vectra@cache'],
    ['redis:6379', 'redis:6379'],
  ])('%j → %j', (value, expected) => {
    expect(redactRedisConnectionString(value)).toBe(expected);
  });
});

describe('describeRedisAddress', () => {
  it('names host and port, IPv6 in brackets, with the defaults', () => {
    expect(describeRedisAddress({ host: 'redis', port: 6380 })).toBe('redis:6380');
    expect(describeRedisAddress({ host: '::1', port: 6379 })).toBe('[::1]:6379');
    expect(describeRedisAddress({})).toBe('localhost:6379');
  });
});
