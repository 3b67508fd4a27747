import { join } from 'node:path';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  parsePostgresConnectionString,
  parseSqliteConnectionString,
  redactConnectionString,
} from '../../src/storage/connection-strings';

const SECRET = 'S3cr3t;pw';

/** The message the parser throws for `text`, checked never to contain the secret. */
function errorOf(parse: (text: string) => unknown, text: string): string {
  let message: string | undefined;
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    message = (error as Error).message;
  }
  if (message === undefined) throw new Error(`expected ${JSON.stringify(text)} to be refused`);
  for (const piece of ['S3cr3t', 'pw"', 'Hunter2', 'hunter2']) expect(message).not.toContain(piece);
  return message;
}

describe('parseSqliteConnectionString', () => {
  it.each([
    ['Data Source=/data/vectra.db', '/data/vectra.db'],
    ['data source = /data/vectra.db ;', '/data/vectra.db'],
    ['DATA SOURCE=/data/vectra.db', '/data/vectra.db'],
    ['DataSource=/data/vectra.db', '/data/vectra.db'],
    ['Filename=/data/vectra.db', '/data/vectra.db'],
    ['Data Source="/data/with;semicolon.db"', '/data/with;semicolon.db'],
    ["Data Source='/data/it''s.db'", "/data/it's.db"],
  ])('%s → %s', (text, filename) => {
    expect(parseSqliteConnectionString(text)).toEqual({ filename, inMemory: false });
  });

  it('resolves a relative path against the working directory', () => {
    expect(
      parseSqliteConnectionString('Data Source=./data/vectra.db', '/srv/vectra').filename,
    ).toBe('/srv/vectra/data/vectra.db');
    expect(parseSqliteConnectionString('Data Source=vectra.db').filename).toBe(
      join(process.cwd(), 'vectra.db'),
    );
  });

  it('accepts :memory:', () => {
    expect(parseSqliteConnectionString('Data Source=:memory:')).toEqual({
      filename: ':memory:',
      inMemory: true,
    });
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['/data/vectra.db', /must look like Data Source=<path>/],
    ['Data Source=', /missing or empty/],
    ['Mode=ReadOnly', /unknown key "Mode"; supported: Data Source/],
    ['Data Source=/a.db;Filename=/b.db', /given twice/],
    ['Data Source="/a.db', /no closing "/],
    ['Data Source=/a.db;Password=Hunter2', /unknown key "Password"/],
  ])('refuses %j', (text, expected) => {
    expect(errorOf(parseSqliteConnectionString, text)).toMatch(expected);
  });
});

describe('parsePostgresConnectionString: Npgsql form', () => {
  it('maps every setting to the pool configuration', () => {
    const parsed = parsePostgresConnectionString(
      'Host=db;Port=5433;Database=vectra;Username=vectra_app;Password=p;SSL Mode=VerifyFull;Timeout=7;' +
        'Command Timeout=30;Maximum Pool Size=20;Minimum Pool Size=2;Application Name=vectra gateway',
    );
    expect(parsed.config).toEqual({
      host: 'db',
      port: 5433,
      database: 'vectra',
      user: 'vectra_app',
      password: 'p',
      ssl: { rejectUnauthorized: true },
      connectionTimeoutMillis: 7000,
      statement_timeout: 30_000,
      max: 20,
      min: 2,
      application_name: 'vectra gateway',
    });
    expect(parsed.target).toBe('db:5433/vectra');
    expect(parsed.warnings).toEqual([]);
  });

  it('uses the defaults of the driver, with a bounded connect timeout', () => {
    const parsed = parsePostgresConnectionString('Host=db');
    expect(parsed.config).toEqual({
      host: 'db',
      connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
    });
    expect(parsed.target).toBe('db:5432/(default database)');
  });

  it.each([
    [
      'Server=db;DB=vectra;User ID=u;Pwd=p',
      { host: 'db', database: 'vectra', user: 'u', password: 'p' },
    ],
    [
      'host=db;database=vectra;userid=u;psw=p',
      { host: 'db', database: 'vectra', user: 'u', password: 'p' },
    ],
    ['HOST=db;User=u', { host: 'db', user: 'u' }],
    ['Host=db;User Name=u', { host: 'db', user: 'u' }],
    ['Host=db;UID=u', { host: 'db', user: 'u' }],
    ['Host=db;Max Pool Size=5;Min Pool Size=1', { host: 'db', max: 5, min: 1 }],
    ['Host=db;MaximumPoolSize=5', { host: 'db', max: 5 }],
    ['  Host = db ; Port = 6000 ;; ', { host: 'db', port: 6000 }],
  ])('accepts the aliases in %j', (text, expected) => {
    expect(parsePostgresConnectionString(text).config).toMatchObject(expected);
  });

  it('reads quoted values holding ; = spaces and doubled quotes', () => {
    expect(parsePostgresConnectionString('Host=db;Password="a;b=c ""d"""').config.password).toBe(
      'a;b=c "d"',
    );
    expect(
      parsePostgresConnectionString("Host=db;Password='it''s;x';Database=v").config,
    ).toMatchObject({
      password: "it's;x",
      database: 'v',
    });
    expect(parsePostgresConnectionString('Host=db;Password=  spaced out  ').config.password).toBe(
      'spaced out',
    );
  });

  it.each([
    ['Disable', false, 0],
    ['disable', false, 0],
    ['Allow', false, 1],
    ['Prefer', false, 1],
    ['Require', { rejectUnauthorized: false }, 0],
    ['VerifyFull', { rejectUnauthorized: true }, 0],
    ['verify-full', { rejectUnauthorized: true }, 0],
  ])('SSL Mode=%s', (mode, ssl, warnings) => {
    const viaSpace = parsePostgresConnectionString(`Host=db;SSL Mode=${mode}`);
    const viaJoined = parsePostgresConnectionString(`Host=db;SslMode=${mode}`);
    expect(viaSpace.config.ssl).toEqual(ssl);
    expect(viaJoined.config.ssl).toEqual(ssl);
    expect(viaSpace.warnings).toHaveLength(warnings);
  });

  it('SSL Mode=VerifyCA checks the chain but not the host name', () => {
    const ssl = parsePostgresConnectionString('Host=db;SSL Mode=VerifyCA').config.ssl as {
      rejectUnauthorized: boolean;
      checkServerIdentity: () => unknown;
    };
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.checkServerIdentity()).toBeUndefined();
  });

  it('says that Prefer connects without TLS', () => {
    expect(parsePostgresConnectionString('Host=db;SSL Mode=Prefer').warnings[0]).toMatch(
      /without TLS.*Require/,
    );
  });
});

describe('parsePostgresConnectionString: URL form', () => {
  it('maps user, password (percent-decoded), host, port, database and parameters', () => {
    const parsed = parsePostgresConnectionString(
      'postgres://vectra%40corp:p%40ss%3Bword@db.example:6543/vec%20tra?sslmode=verify-full&application_name=gw&connect_timeout=3',
    );
    expect(parsed.config).toEqual({
      host: 'db.example',
      port: 6543,
      user: 'vectra@corp',
      password: 'p@ss;word',
      database: 'vec tra',
      ssl: { rejectUnauthorized: true },
      application_name: 'gw',
      connectionTimeoutMillis: 3000,
    });
    expect(parsed.target).toBe('db.example:6543/vec tra');
  });

  it.each([
    ['postgresql://u@db/vectra', { host: 'db', user: 'u', database: 'vectra' }],
    ['POSTGRES://db', { host: 'db' }],
    ['postgres://[::1]:5432/v', { host: '::1', port: 5432, database: 'v' }],
    [
      'postgres:///vectra?host=/var/run/postgresql',
      { host: '/var/run/postgresql', database: 'vectra' },
    ],
    ['postgres://db/v?sslmode=require', { ssl: { rejectUnauthorized: false } }],
    ['postgres://db/v?sslmode=disable', { ssl: false }],
    [
      'postgres://db/v?user=u&password=p&dbname=other&port=7000',
      { user: 'u', password: 'p', database: 'other', port: 7000 },
    ],
  ])('%s', (text, expected) => {
    expect(parsePostgresConnectionString(text).config).toMatchObject(expected);
  });
});

describe('parsePostgresConnectionString: refusals never show the password', () => {
  it.each([
    ['', /empty/],
    ['db:5432', /must be Host=…/],
    ['Host=db;Port=abc;Password=S3cr3t', /Port must be a number between 1 and 65535/],
    ['Host=db;Port=70000;Password=S3cr3t', /Port must be a number/],
    ['Host=db;Port=-1', /Port must be a number/],
    ['Database=v;Password=S3cr3t', /Host is missing/],
    [
      'Host=db;Frobnicate=1;Password=S3cr3t',
      /unknown key "Frobnicate".*supported: Host \(Server\)/,
    ],
    [
      `Host=db;Password=${SECRET}`,
      /part 3 is not Key=Value \(if a value contains ';', wrap it in double quotes\)/,
    ],
    [
      `Host=db;Password=S3cr3t;pw=x`,
      /unknown key after Password \(a value containing ';' must be in double quotes\)/,
    ],
    ['Host=db;Server=other', /Host is given twice/],
    ['Host=a,b', /several hosts/],
    [
      'Host=db;SSL Mode=Sometimes',
      /SSL Mode must be one of Disable, Allow, Prefer, Require, VerifyCA, VerifyFull/,
    ],
    ['Host=db;Timeout=soon', /Timeout must be a whole number of seconds/],
    ['Host=db;Maximum Pool Size=0', /Maximum Pool Size must be a whole number ≥ 1/],
    [
      'Host=db;Max Pool Size=2;Min Pool Size=5',
      /Minimum Pool Size is larger than Maximum Pool Size/,
    ],
    ['Host=db;Password="S3cr3t;pw', /the value of Password has no closing "/],
    ['Host=db;Password="S3cr3t"pw"', /unexpected text after the quoted value of Password/],
    ['Host=db;=S3cr3t', /part 2 has a value but no key/],
    ['mysql://u:S3cr3t@db/v', /must start with postgres:\/\//],
    ['postgres://u:S3cr3t@db:abc/v', /port in the URL is not a number/],
    ['postgres://u:S3cr3t@db:99999/v', /port in the URL is larger than 65535/],
    ['postgres://u:S3cr3t@db/v?sslcert=/x', /unknown URL parameter "sslcert"/],
    ['postgres://u:S3cr3t@db/v?sslmode=maybe', /sslmode must be one of/],
    ['postgres://u:S3cr3t@db/v?port=x', /port must be a number/],
  ])('%j', (text, expected) => {
    expect(errorOf(parsePostgresConnectionString, text)).toMatch(expected);
  });

  it('does not show a piece of an unquoted password that looks like a key', () => {
    const message = errorOf(
      parsePostgresConnectionString,
      'Host=db;Password=Hunter2;hunter2rest=1',
    );
    expect(message).not.toContain('hunter2rest');
  });
});

describe('redactConnectionString', () => {
  it.each([
    ['Host=db;Username=u;Password=S3cr3t;Database=v', 'Host=db;Username=u;Password=***;Database=v'],
    ['Host=db;pwd = S3cr3t', 'Host=db;pwd = ***'],
    ['PSW=S3cr3t;Host=db', 'PSW=***;Host=db'],
    ['Host=db;Password="S3cr;et""x";Database=v', 'Host=db;Password=***;Database=v'],
    ["Host=db;Password='S3cr;et';Database=v", 'Host=db;Password=***;Database=v'],
    ['Host=db;Password="S3cr;et', 'Host=db;Password=***'],
    ['Host=db;Password="S3cr"et;Database=v', 'Host=db;Password=***;Database=v'],
    ['Host=db;Database=v', 'Host=db;Database=v'],
    ['Data Source=/data/vectra.db', 'Data Source=/data/vectra.db'],
    ['postgres://u:S3cr3t@db:5432/v', 'postgres://u:***@db:5432/v'],
    ['postgresql://u:S3c@r3t@db/v?sslmode=require', 'postgresql://u:***@db/v?sslmode=require'],
    ['postgres://u@db/v', 'postgres://u@db/v'],
    [
      'postgres://db/v?user=u&password=S3cr3t&sslmode=require',
      'postgres://db/v?user=u&password=***&sslmode=require',
    ],
    ['', ''],
  ])('%j → %j', (text, redacted) => {
    expect(redactConnectionString(text)).toBe(redacted);
  });
});
