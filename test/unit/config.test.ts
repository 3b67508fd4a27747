import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS } from '../../src/config/keys';
import { loadConfig, valueAt } from '../../src/config/loader';
import { maskSecret } from '../../src/config/mask';
import { ConfigError } from '../../src/errors';
import { tempDir } from '../helpers/temp-dir';

const repoRoot = join(__dirname, '../..');

function tempBase(files: Record<string, unknown> = {}): string {
  const dir = tempDir('vectra-config-');
  mkdirSync(join(dir, 'config'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

function problemsOf(fn: () => unknown): ConfigError['problems'] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration defaults', () => {
  it('config/appsettings.json holds every schema key with the schema default', () => {
    const file = JSON.parse(readFileSync(join(repoRoot, 'config/appsettings.json'), 'utf8'));
    for (const key of CONFIG_KEYS) {
      const value = key.path.split('.').reduce((node, part) => node?.[part], file);
      expect({ key: key.path, value }).toEqual({ key: key.path, value: key.default });
    }
    const { origins } = loadConfig({ baseDir: repoRoot, env: {} });
    expect(origins.size).toBe(CONFIG_KEYS.length);
  });

  it('loads exactly the schema keys, each a value of its kind', () => {
    const { config } = loadConfig({
      baseDir: tempBase(),
      env: { System__Proxy__Port: '9090', Policy__Enabled: 'false' },
    });
    const leaves: string[] = [];
    const walk = (node: object, prefix: string) => {
      for (const [name, child] of Object.entries(node)) {
        if (typeof child === 'object' && child !== null) walk(child, `${prefix}${name}.`);
        else leaves.push(`${prefix}${name}`);
      }
    };
    walk(config, '');
    expect(leaves).toEqual(CONFIG_KEYS.map((k) => k.path));
    for (const key of CONFIG_KEYS) {
      expect({ key: key.path, kind: typeof valueAt(config, key.path) }).toEqual({
        key: key.path,
        kind: key.kind,
      });
    }
    expect(config.System.Proxy.Port).toBe(9090);
    expect(config.Policy.Enabled).toBe(false);
  });

  it('has the documented defaults', () => {
    const { config } = loadConfig({ baseDir: tempBase(), env: {} });
    expect(config.System.Server.Http.Port).toBe(7080);
    expect(config.System.Server.Https.Enabled).toBe(false);
    expect(config.System.Server.Https.Port).toBe(7443);
    expect(config.System.Proxy.Port).toBe(7081);
    expect(config.System.Storage.DataDirectory).toBe('./data');
    expect(config.System.Storage.Database.DefaultProvider).toBe('Sqlite');
    expect(config.System.Storage.Database.Providers.Sqlite.ConnectionString).toBe(
      'Data Source=./data/vectra.db',
    );
    expect(config.System.Storage.Cache.DefaultProvider).toBe('Memory');
    expect(config.System.RateLimit.DefaultRequestsPerMinute).toBe(60);
    expect(config.System.CircuitBreaker.FailureThreshold).toBe(5);
    expect(config.Security.AgentAuth.Provider).toBe('SelfSigned');
    expect(config.Policy.Enabled).toBe(true);
    expect(config.Policy.DefaultProvider).toBe('Internal');
    expect(config.Policy.Providers.Internal.Directory).toBe('./policies');
    expect(config.Semantic.Enabled).toBe(false);
    expect(config.HumanInTheLoop).toMatchObject({
      Enabled: true,
      Threshold: 0.8,
      TimeoutSeconds: 3600,
    });
    expect(config.Observability.Logging.DefaultLogLevel).toBe('Information');
    expect(config.Observability.Logging.Seq.Enabled).toBe(false);
    expect(config.SecretManagement.DefaultProvider).toBe('Internal');
  });

  it('every key of the seed environment table exists', () => {
    // The "Environment Variables Reference" table of shared/seeds/vectra-docker.txt.
    const seedVars = [
      'System__Server__Http__Port',
      'System__Server__Https__Enabled',
      'System__Server__Https__Port',
      'System__Storage__Database__DefaultProvider',
      'System__Storage__Database__Providers__Sqlite__ConnectionString',
      'System__Storage__Database__Providers__Postgres__ConnectionString',
      'System__Storage__Cache__DefaultProvider',
      'System__Storage__Cache__Providers__Redis__ConnectionString',
      'System__RateLimit__DefaultRequestsPerMinute',
      'System__CircuitBreaker__FailureThreshold',
      'Security__AgentAuth__Provider',
      'Security__AgentAuth__Jwt__Issuer',
      'Security__AgentAuth__Jwt__Audience',
      'Security__AgentAuth__Jwt__SecretKey',
      'Policy__Enabled',
      'Policy__DefaultProvider',
      'Policy__Providers__Internal__Directory',
      'Policy__Providers__Opa__BaseUrl',
      'Semantic__Enabled',
      'Semantic__DefaultProvider',
      'Semantic__Providers__OpenAi__ApiKey',
      'HumanInTheLoop__Enabled',
      'HumanInTheLoop__Threshold',
      'HumanInTheLoop__TimeoutSeconds',
      'HumanInTheLoop__NotificationWebhookUrl',
      'Observability__Logging__DefaultLogLevel',
      'Observability__Logging__Seq__Enabled',
      'Observability__Logging__Seq__ServerUrl',
      'SecretManagement__DefaultProvider',
      'SecretManagement__Providers__AzureKeyVault__VaultUri',
      // HTTPS example of the seed.
      'System__Server__Https__Certificate__Path',
      'System__Server__Https__Certificate__Password',
    ];
    const envVars = new Set(CONFIG_KEYS.map((k) => k.envVar));
    expect(seedVars.filter((name) => !envVars.has(name))).toEqual([]);
  });

  it('is frozen', () => {
    const { config } = loadConfig({ baseDir: tempBase(), env: {} });
    expect(Object.isFrozen(config.System.Server.Http)).toBe(true);
    expect(() => {
      (config.System.Server.Http as { Port: number }).Port = 1;
    }).toThrow();
  });
});

describe('configuration layers', () => {
  const base = () =>
    tempBase({
      'config/appsettings.json': {
        System: { Server: { Http: { Port: 7001 }, Https: { Port: 7401 } }, Proxy: { Port: 7101 } },
      },
      'config/appsettings.Production.json': {
        System: { Server: { Http: { Port: 7002 }, Https: { Port: 7402 } } },
      },
      'extra.json': { System: { Server: { Http: { Port: 7003 } } } },
    });

  it('later layers win: defaults < appsettings < appsettings.<env> < --config < env < flags', () => {
    const dir = base();
    const env = { VECTRA_ENVIRONMENT: 'Production' };
    expect(loadConfig({ baseDir: dir, env: {} }).config.System.Server.Http.Port).toBe(7001);
    expect(loadConfig({ baseDir: dir, env }).config.System.Server.Http.Port).toBe(7002);
    expect(
      loadConfig({ baseDir: dir, env, configFile: 'extra.json' }).config.System.Server.Http.Port,
    ).toBe(7003);
    const withEnv = { ...env, System__Server__Http__Port: '7004' };
    expect(
      loadConfig({ baseDir: dir, env: withEnv, configFile: 'extra.json' }).config.System.Server.Http
        .Port,
    ).toBe(7004);
    const loaded = loadConfig({
      baseDir: dir,
      env: withEnv,
      configFile: 'extra.json',
      flags: { 'System.Server.Http.Port': '7005' },
    });
    expect(loaded.config.System.Server.Http.Port).toBe(7005);
    expect(loaded.origins.get('System.Server.Http.Port')).toBe('flag');
    expect(loaded.origins.get('System.Server.Https.Port')).toBe(
      join(dir, 'config/appsettings.Production.json'),
    );
    expect(loaded.origins.get('System.Proxy.Port')).toBe(join(dir, 'config/appsettings.json'));
    expect(loaded.origins.get('System.RateLimit.DefaultRequestsPerMinute')).toBe('default');
    expect(loaded.files).toEqual([
      join(dir, 'config/appsettings.json'),
      join(dir, 'config/appsettings.Production.json'),
      join(dir, 'extra.json'),
    ]);
  });

  it('matches environment variable sections case-insensitively and records the variable', () => {
    const loaded = loadConfig({ baseDir: tempBase(), env: { SYSTEM__server__HTTP__port: '7099' } });
    expect(loaded.config.System.Server.Http.Port).toBe(7099);
    expect(loaded.origins.get('System.Server.Http.Port')).toBe('env SYSTEM__server__HTTP__port');
  });

  it('coerces strings from the environment', () => {
    const { config } = loadConfig({
      baseDir: tempBase(),
      env: {
        Policy__Enabled: 'false',
        Semantic__Enabled: 'TRUE',
        System__RateLimit__DefaultRequestsPerMinute: '60',
        HumanInTheLoop__Threshold: '0.8',
        HumanInTheLoop__TimeoutSeconds: ' 120 ',
      },
    });
    expect(config.Policy.Enabled).toBe(false);
    expect(config.Semantic.Enabled).toBe(true);
    expect(config.System.RateLimit.DefaultRequestsPerMinute).toBe(60);
    expect(config.HumanInTheLoop.Threshold).toBe(0.8);
    expect(config.HumanInTheLoop.TimeoutSeconds).toBe(120);
  });

  it('ignores environment variables outside the known sections', () => {
    const { config } = loadConfig({
      baseDir: tempBase(),
      env: { PATH: '/bin', Other__Thing: 'x', npm_config__x: 'y' },
    });
    expect(config.System.Server.Http.Port).toBe(7080);
  });
});

describe('configuration problems', () => {
  it('names the key, its environment variable, the bad value and what is allowed', () => {
    const problems = problemsOf(() =>
      loadConfig({
        baseDir: tempBase(),
        env: { System__RateLimit__DefaultRequestsPerMinute: 'abc' },
      }),
    );
    expect(problems).toEqual([
      {
        key: 'System.RateLimit.DefaultRequestsPerMinute',
        envVar: 'System__RateLimit__DefaultRequestsPerMinute',
        source: 'env System__RateLimit__DefaultRequestsPerMinute',
        value: 'abc',
        message: 'must be a whole number of at least 1',
      },
    ]);
  });

  it('lists every problem at once, with a readable message', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        baseDir: tempBase(),
        env: {
          System__Server__Http__Port: '70000',
          Policy__Enabled: 'yes',
          HumanInTheLoop__Threshold: '1.5',
          System__Storage__Database__DefaultProvider: 'Mysql',
          Observability__Logging__DefaultLogLevel: 'Verbose',
        },
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.code).toBe('VEC_CONFIG_INVALID');
    expect(error?.problems.map((p) => [p.key, p.message])).toEqual(
      expect.arrayContaining([
        ['System.Server.Http.Port', 'must be an integer from 0 to 65535 (0 picks a free port)'],
        ['Policy.Enabled', 'must be true or false'],
        ['HumanInTheLoop.Threshold', 'must be a number from 0 to 1'],
        ['System.Storage.Database.DefaultProvider', 'must be one of: Sqlite, Postgres'],
        [
          'Observability.Logging.DefaultLogLevel',
          'must be one of: Trace, Debug, Information, Warning, Error, Critical, None',
        ],
      ]),
    );
    expect(error?.problems).toHaveLength(5);
    expect(error?.message).toContain('5 problems');
    expect(error?.message).toContain('System__Server__Http__Port');
    expect(error?.message).toContain('"70000"');
  });

  it('treats a typo under a known section as an unknown key, with a suggestion', () => {
    const problems = problemsOf(() =>
      loadConfig({ baseDir: tempBase(), env: { System__Server__Htp__Port: '7099' } }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      key: 'System.Server.Htp.Port',
      envVar: 'System__Server__Htp__Port',
      value: '7099',
    });
    expect(problems[0].message).toContain('not a known configuration key');
    expect(problems[0].message).toContain('System.Server.Http.Port');
  });

  it('rejects unknown keys in files and values of the wrong type', () => {
    const dir = tempBase({
      'config/appsettings.json': {
        System: { Server: { Http: { Port: 'eighty', Prot: 1 } } },
        Unknown: { A: 1 },
      },
    });
    const problems = problemsOf(() => loadConfig({ baseDir: dir, env: {} }));
    expect(problems.map((p) => p.key).sort()).toEqual([
      'System.Server.Http.Port',
      'System.Server.Http.Prot',
      'Unknown',
    ]);
    expect(problems.find((p) => p.key === 'System.Server.Http.Port')?.source).toBe(
      join(dir, 'config/appsettings.json'),
    );
  });

  it('reports a broken JSON file with its position, and a missing --config file', () => {
    const dir = tempBase({ 'config/appsettings.json': '{ "System": { "Server": ' });
    const problems = problemsOf(() =>
      loadConfig({ baseDir: dir, env: {}, configFile: 'nope.json' }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0].message).toMatch(
      /appsettings\.json is not valid JSON: .*position|appsettings\.json is not valid JSON: Unexpected end/,
    );
    expect(problems[1].message).toContain('nope.json cannot read the file (ENOENT)');
  });

  it('checks rate-limit override lists and says which entry is wrong', () => {
    const { config } = loadConfig({
      baseDir: tempBase(),
      env: {
        System__RateLimit__AgentOverrides: 'ci-bot=600,scraper=10',
        System__RateLimit__ServiceOverrides: 'prod/github=30,stripe=5',
      },
    });
    expect(config.System.RateLimit.AgentOverrides).toBe('ci-bot=600,scraper=10');
    expect(config.System.RateLimit.VaultOverrides).toBe('');

    const problems = problemsOf(() =>
      loadConfig({
        baseDir: tempBase({
          'config/appsettings.json': { System: { RateLimit: { VaultOverrides: 'prod=1,prod=2' } } },
        }),
        env: {
          System__RateLimit__AgentOverrides: 'ci-bot=600,scraper=0',
          System__RateLimit__ServiceOverrides: 'a/b/c=5',
        },
      }),
    );
    expect(problems).toEqual([
      {
        key: 'System.RateLimit.AgentOverrides',
        envVar: 'System__RateLimit__AgentOverrides',
        source: 'env System__RateLimit__AgentOverrides',
        value: 'ci-bot=600,scraper=0',
        message:
          'must be name=requestsPerMinute pairs separated by commas (e.g. ci-bot=600,scraper=10): "scraper=0": requests per minute must be a whole number from 1 to 2147483647',
      },
      expect.objectContaining({
        key: 'System.RateLimit.VaultOverrides',
        message: expect.stringContaining('vault "prod" is listed twice'),
      }),
      expect.objectContaining({
        key: 'System.RateLimit.ServiceOverrides',
        message: expect.stringContaining(
          '"a/b/c=5": service "a/b/c" must be <service> or <vault>/<service>',
        ),
      }),
    ]);
  });

  it('masks secret values in problems', () => {
    const problems = problemsOf(() =>
      loadConfig({
        baseDir: tempBase(),
        env: { HumanInTheLoop__NotificationWebhookUrl: 'ftp://hooks.example.com/s3cr3t-planted' },
      }),
    );
    expect(JSON.stringify(problems)).not.toContain('s3cr3t-planted');
    expect(problems[0].key).toBe('HumanInTheLoop.NotificationWebhookUrl');
  });
});

describe('maskSecret', () => {
  it.each([
    [
      'System.Storage.Database.Providers.Postgres.ConnectionString',
      'Host=db;Port=5432;Database=v;Username=u;Password=hunter2',
      'Host=db;Port=5432;Database=v;Username=u;Password=********',
    ],
    [
      'System.Storage.Database.Providers.Postgres.ConnectionString',
      'postgres://u:hunter2@db:5432/v',
      'postgres://u:********@db:5432/v',
    ],
    [
      'System.Storage.Cache.Providers.Redis.ConnectionString',
      'redis:6379,password=hunter2,ssl=true',
      'redis:6379,password=********,ssl=true',
    ],
    ['System.Storage.Cache.Providers.Redis.ConnectionString', 'redis:6379', 'redis:6379'],
    [
      'HumanInTheLoop.NotificationWebhookUrl',
      'https://hooks.example.com/services/T0/B0/hunter2',
      'https://hooks.example.com/********',
    ],
    ['Semantic.Providers.OpenAi.ApiKey', 'sk-hunter2', '********'],
    ['Semantic.Providers.OpenAi.ApiKey', '', ''],
  ])('%s: %s', (key, value, expected) => {
    expect(maskSecret(key, value)).toBe(expected);
  });
});

describe('docs/configuration.md', () => {
  it('documents every configuration key with its environment variable', () => {
    const readme = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
    const row = (path: string, env: string) =>
      new RegExp(`\\|\\s*\`${path}\`\\s*\\|\\s*\`${env}\`\\s*\\|`);
    const missing = CONFIG_KEYS.filter((k) => !row(k.path, k.envVar).test(readme));
    expect(missing.map((k) => k.path)).toEqual([]);
  });
});
