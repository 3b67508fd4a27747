import { readFileSync, statSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { exitOf, runCli, startServe, freshWorkdir } from '../helpers/cli';
import { freePort, waitFor } from '../helpers/waiting-and-processes';

const version = (
  JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string }
).version;

describe('vectra CLI basics', () => {
  it('--help lists the commands', async () => {
    const res = await runCli(['--help']);
    expect(res.code).toBe(0);
    for (const cmd of ['serve', 'config', 'health']) expect(res.stdout).toContain(cmd);
  });

  it('--version prints the package version', async () => {
    const res = await runCli(['--version']);
    expect(res).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('an unknown command is a usage error (exit 2) with a hint', async () => {
    const res = await runCli(['frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("unknown command 'frobnicate'");
    expect(res.stderr).toContain('vectra --help');
  });
});

describe('vectra config', () => {
  it('validate: exit 0 on the defaults', async () => {
    const res = await runCli(['config', 'validate']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^configuration is valid/);
  });

  it('validate: exit 2 listing every problem with key and environment variable', async () => {
    const res = await runCli(['config', 'validate'], {
      env: { System__RateLimit__DefaultRequestsPerMinute: 'abc', System__Server__Htp__Port: '1' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('2 problems');
    expect(res.stderr).toContain(
      'System.RateLimit.DefaultRequestsPerMinute [env System__RateLimit__DefaultRequestsPerMinute]',
    );
    expect(res.stderr).toContain('"abc"');
    expect(res.stderr).toContain('System__Server__Htp__Port');
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('show: effective values with their source, secrets masked', async () => {
    const secret = 'planted-secret-7f3a9';
    const res = await runCli(['config', 'show'], {
      env: {
        System__Server__Http__Port: '7099',
        Semantic__Providers__OpenAi__ApiKey: `sk-${secret}`,
        System__Storage__Database__Providers__Postgres__ConnectionString: `Host=db;Database=v;Username=u;Password=${secret}`,
      },
    });
    expect(res.code).toBe(0);
    expect(res.stdout).not.toContain(secret);
    expect(res.stdout).toMatch(
      /System\.Server\.Http\.Port\s+7099\s+env System__Server__Http__Port/,
    );
    expect(res.stdout).toMatch(/Semantic\.Providers\.OpenAi\.ApiKey\s+\*{8}/);
    expect(res.stdout).toContain('Host=db;Database=v;Username=u;Password=********');
    expect(res.stdout).toMatch(
      /System\.RateLimit\.DefaultRequestsPerMinute\s+60\s+.*config\/appsettings\.json/,
    );
  });

  it('show --json: machine-readable', async () => {
    const res = await runCli(['config', 'show', '--json'], { env: { Policy__Enabled: 'false' } });
    expect(res.code).toBe(0);
    const parsed = JSON.parse(res.stdout);
    expect(parsed.keys).toContainEqual({
      key: 'Policy.Enabled',
      envVar: 'Policy__Enabled',
      value: false,
      source: 'env Policy__Enabled',
    });
  });
});

describe('vectra serve', () => {
  it('exits 2 on an invalid value, naming the key and the environment variable', async () => {
    const res = await runCli(['serve'], {
      env: { System__RateLimit__DefaultRequestsPerMinute: 'abc' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('System.RateLimit.DefaultRequestsPerMinute');
    expect(res.stderr).toContain('System__RateLimit__DefaultRequestsPerMinute');
  });

  it('runs on embedded defaults: Healthy, database created owner-only, clean exit on SIGTERM', async () => {
    const cwd = freshWorkdir();
    // A port chosen in advance: the test checks that the configured one is the one bound.
    const port = await freePort();
    const { child, api: url } = await startServe([], {
      cwd,
      env: { System__Server__Http__Port: String(port) },
    });
    try {
      expect(url).toBe(`http://127.0.0.1:${port}`);
      const health = await runCli(['health', '--addr', url]);
      expect(health.code).toBe(0);
      expect(health.stdout).toMatch(/^Healthy/);
      expect(health.stdout).toContain('database: Healthy - Sqlite');
      expect(statSync(join(cwd, 'data')).mode & 0o777).toBe(0o700);
      expect(statSync(join(cwd, 'data', 'vectra.db')).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('names the proxy listener beside the API on its start-up line and in its log', async () => {
    const serving = await startServe();
    const { child, proxy, api } = serving;
    try {
      expect(proxy).not.toBe(api);
      // The named proxy is the forward proxy: it asks for the agent's credentials.
      const refused = await new Promise<IncomingMessage>((resolve, reject) => {
        const { hostname, port } = new URL(proxy);
        request({ host: hostname, port, path: 'http://example.test/' }, resolve)
          .on('error', reject)
          .end();
      });
      refused.resume();
      expect(refused.statusCode).toBe(407);
      expect((await runCli(['health', '--addr', api])).code).toBe(0);
      await waitFor(
        'the listening log line',
        async () => serving.stdout.includes('listening'),
        5000,
      );
      const line = serving.stdout.split('\n').find((l) => l.includes('listening'));
      expect(line).toContain(proxy);
      expect(line).toContain(api);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('--port overrides the environment', async () => {
    // A port chosen in advance: the test checks that --port is the one bound.
    const port = await freePort();
    const { child, api: url } = await startServe(['--port', String(port)], {
      env: { System__Server__Http__Port: '1' },
    });
    try {
      expect(url).toBe(`http://127.0.0.1:${port}`);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exitOf(child)).toBe(0);
  });
});

describe('vectra health', () => {
  it('exits 1 with one line when nothing answers', async () => {
    const port = await freePort();
    const res = await runCli(['health', '--addr', `http://127.0.0.1:${port}`]);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain(`no answer from http://127.0.0.1:${port}`);
  });

  it('exits 1 when the gateway is Unhealthy', async () => {
    const { child, api: url } = await startServe([], {
      env: { Policy__Providers__Internal__Directory: '/nonexistent/policies' },
    });
    try {
      const res = await runCli(['health', '--addr', url]);
      expect(res.code).toBe(1);
      expect(res.stdout).toMatch(/^Unhealthy/);
      expect(res.stdout).toContain('policies: Unhealthy');
    } finally {
      child.kill('SIGTERM');
    }
    await exitOf(child);
  });
});
