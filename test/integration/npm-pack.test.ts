/**
 * The release tarball: `npm pack` of this checkout, installed with `npm install -g` into an
 * empty prefix (dependencies from the registry or npm's cache; better-sqlite3 may compile),
 * then the installed `vectra` run from an empty directory: --version, config validate, and
 * `serve` on port 0 until /health says Healthy, stopped with SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, waitForOutput } from '../helpers/cli';
import { REPO_ROOT } from '../helpers/gateway';
import { tempDir } from '../helpers/temp-dir';

const INSTALL_TIMEOUT_MS = 10 * 60_000;

function npm(args: string[], cwd: string): string {
  const result = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
  });
  if (result.status !== 0) {
    throw new Error(`npm ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

/** The environment of the installed CLI: none of the developer's Vectra settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.includes('__') && !name.startsWith('VECTRA_')) env[name] = value;
  }
  return { ...env, Observability__Logging__File__Enabled: 'false', ...extra };
}

describe('the npm package', () => {
  const work = tempDir('vectra-pack-');
  const prefix = join(work, 'prefix');
  const vectra = join(prefix, 'bin', 'vectra');
  const packageDir = join(prefix, 'lib', 'node_modules', 'vectra');
  let files: string[] = [];

  beforeAll(() => {
    // --ignore-scripts: dist/ is already built by the global set-up, and `prepare` rebuilding
    // it would pull it from under the suites running beside this one.
    const [packed] = JSON.parse(
      npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], REPO_ROOT),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed.files.map((f) => f.path);
    npm(
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(work, packed.filename),
      ],
      work,
    );
  }, INSTALL_TIMEOUT_MS);

  it('ships the compiled code and what it reads at run time, not the sources or tests', () => {
    for (const file of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'bin/vectra.js',
      'dist/cli/main.js',
      'dist/gateway.js',
      'config/appsettings.json',
      'preload/node-proxy.js',
      'policies/read-only-by-default.json',
    ]) {
      expect(files).toContain(file);
    }
    const unwanted = files.filter((file) =>
      /^(src|test|bench|docs|deploy|\.ci|\.docker|dist\/bench)\/|\.tsbuildinfo$/.test(file),
    );
    expect(unwanted).toEqual([]);
  });

  it('installs a `vectra` that prints the package version', () => {
    const version = (
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const result = spawnSync(vectra, ['--version'], { cwd: work, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(version);
  });

  it('validates its configuration from an empty directory', () => {
    const cwd = tempDir('vectra-pack-cwd-');
    const result = spawnSync(vectra, ['config', 'validate'], {
      cwd,
      encoding: 'utf8',
      env: cleanEnv({}),
    });
    expect(result.status).toBe(0);
  });

  it('serves from the installed package: /health is Healthy, SIGTERM stops it cleanly', async () => {
    const cwd = tempDir('vectra-pack-cwd-');
    const child = spawn(vectra, ['serve'], {
      cwd,
      env: cleanEnv({
        System__Server__Http__Port: '0',
        System__Proxy__Port: '0',
        // The policies the package ships, so the policy check has a set to report on.
        Policy__Providers__Internal__Directory: join(packageDir, 'policies'),
      }),
    });
    child.stdout.resume();
    try {
      const [, , api] = await waitForOutput(
        child,
        /proxy on (http:\/\/\S+) and API on (http:\/\/\S+)/,
      );
      const response = await fetch(`${api}/health`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { status: string }).status).toBe('Healthy');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });
});
