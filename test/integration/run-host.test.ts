/**
 * `vectra run` (host isolation) as a real process against a real gateway: agent mode with good
 * and bad tokens, local mode minting a session, the child's environment and CA files, exit codes
 * and signals, and the forward proxy found through /discover. The child is `node -e`, printing
 * what it was given or calling a local upstream through the proxy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { saveLogin } from '../../src/client/login-store';
import type { Gateway } from '../../src/gateway';
import { cleanEnv, freshWorkdir, startCli, undiciFetchScript } from '../helpers/cli';
import { REPO_ROOT, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const DIST = join(REPO_ROOT, 'dist');
/** Outside `run`'s NO_PROXY (loopback is in it); Linux routes all of 127/8 to lo. */
const UPSTREAM_HOST = '127.0.0.2';
const SECRET = `sk_test_${randomBytes(16).toString('hex')}`;

/**
 * Until src/cli/main.ts registers `run`, the same commander program is built from dist/ with
 * `run` added, and run as its own process exactly as bin/vectra.js would.
 */
const SHIM = `
const { CommanderError } = require(${JSON.stringify(require.resolve('commander'))});
const { buildProgram, VERSION } = require(${JSON.stringify(join(DIST, 'cli/main.js'))});
const { registerRunCommand } = require(${JSON.stringify(join(DIST, 'cli/run-command.js'))});
const { processIo, reportError } = require(${JSON.stringify(join(DIST, 'cli/output.js'))});
const ctx = { io: processIo, env: process.env, version: VERSION, exitCode: 0 };
const program = buildProgram(ctx);
registerRunCommand(program, ctx);
program.parseAsync(process.argv.slice(1), { from: 'user' }).then(
  () => { process.exitCode = ctx.exitCode; },
  (err) => {
    if (err instanceof CommanderError) { process.exitCode = err.exitCode === 0 ? 0 : 2; return; }
    reportError(processIo, err, false);
    process.exitCode = 1;
  },
);`;

function runIsRegistered(): boolean {
  return readFileSync(join(DIST, 'cli/main.js'), 'utf8').includes('registerRunCommand');
}

function startRun(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  if (runIsRegistered()) return startCli(['run', ...args], { env });
  return spawn(process.execPath, ['-e', SHIM, '--', 'run', ...args], {
    cwd: freshWorkdir(),
    env: cleanEnv(env),
  });
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function finished(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const runVectra = (args: string[], env: NodeJS.ProcessEnv) => finished(startRun(args, env));

/** The child: prints what `vectra run` gave it, as one JSON line. */
const PRINT_ENV = `
const fs = require('node:fs');
const path = require('node:path');
const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return null; } };
const dir = path.dirname(process.env.SSL_CERT_FILE);
console.log(JSON.stringify({
  env: process.env,
  bundle: read(process.env.SSL_CERT_FILE),
  vectraCa: read(process.env.NODE_EXTRA_CA_CERTS),
  dir,
  dirMode: fs.statSync(dir).mode & 0o777,
}));`;

function childReport(stdout: string): any {
  const line = stdout.trim().split('\n').pop()!;
  return JSON.parse(line);
}

describe('vectra run (host isolation) against a real gateway', () => {
  const adminToken = 'vec_adm_' + randomBytes(32).toString('base64url');
  let gateway: Gateway;
  let addr: string;
  let agentToken: string;
  let upstream: TestUpstream;
  /** host:port of the gateway's forward proxy: port 0 in the test configuration, so not 7081. */
  let proxyHost: string;

  beforeAll(async () => {
    upstream = await startUpstream([], { host: UPSTREAM_HOST });
    gateway = await startTestGateway({
      Security__Admin__BootstrapToken: adminToken,
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    addr = gateway.urls.http;
    proxyHost = new URL(gateway.urls.proxy).host;
    await gateway.vaults.createVault({ name: 'shop' });
    await gateway.vaults.createVault({ name: 'other' });
    await gateway.vaults.setCredential('shop', 'API_KEY', SECRET);
    await gateway.vaults.createService('shop', {
      name: 'local',
      host: `${UPSTREAM_HOST}:${upstream.httpsPort}`,
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    agentToken = (await gateway.identity.createAgent({ name: 'shopper', vaults: ['shop'] })).token;
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.received.length = 0;
  });

  /** A saved admin login for the gateway, in a fresh config home. */
  function loggedIn(): NodeJS.ProcessEnv {
    const home = tempDir('vectra-home-');
    saveLogin({ VECTRA_CONFIG_HOME: home }, { addr, token: adminToken });
    return { VECTRA_CONFIG_HOME: home };
  }

  /**
   * The child's request went through the gateway's forward proxy: only the proxy injects the
   * credential, and the child sees it redacted in the upstream's echo.
   */
  function expectProxied(result: RunResult, path: string): void {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^200 /);
    expect(JSON.parse(result.stdout.slice(4)).url).toBe(path);
    expect(upstream.received.map((r) => r.url)).toEqual([path]);
    expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(result.stdout).not.toContain(SECRET);
  }

  /** Vectra's CA as the gateway serves it (issue 4, point 3: GET /v1/ca.pem). */
  async function gatewayCa(): Promise<string> {
    const res = await fetch(`${addr}/v1/ca.pem`);
    if (res.status !== 200) {
      throw new Error(`GET /v1/ca.pem answered HTTP ${res.status}; \`vectra run\` needs it`);
    }
    return (await res.text()).trim();
  }

  const agentEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    VECTRA_ADDR: addr,
    VECTRA_TOKEN: agentToken,
    VECTRA_VAULT: 'shop',
    ...extra,
  });

  describe('agent mode', () => {
    it('a bad token fails fast with the status and the command never runs', async () => {
      const marker = join(tempDir('vectra-run-test-'), 'ran');
      const result = await runVectra(
        [
          '--',
          process.execPath,
          '-e',
          `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x')`,
        ],
        agentEnv({ VECTRA_TOKEN: 'vec_agt_' + randomBytes(32).toString('base64url') }),
      );
      expect(result.stderr).toContain('vectra: agent token rejected by gateway (HTTP 401)');
      expect(result.code).toBe(1);
      expect(existsSync(marker)).toBe(false);
    });

    it('a token without access to the vault is rejected with HTTP 403', async () => {
      const result = await runVectra(
        ['--vault', 'other', '--', process.execPath, '-e', ''],
        agentEnv(),
      );
      expect(result.stderr).toContain('vectra: agent token rejected by gateway (HTTP 403)');
      expect(result.code).toBe(1);
    });

    it('the child gets the proxy with its token, NO_PROXY, the CA files and VECTRA_*, and no admin token', async () => {
      const result = await runVectra(
        ['--no-proxy', 'internal.corp', '--', process.execPath, '-e', PRINT_ENV],
        agentEnv({
          VECTRA_ADMIN_TOKEN: adminToken,
          HTTPS_PROXY: 'http://stale:1',
          no_proxy: 'stale',
          SSL_CERT_FILE: '/stale.pem',
        }),
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const report = childReport(result.stdout);
      const caPem = await gatewayCa();
      // No --proxy, no VECTRA_PROXY: the port /discover advertises, with the API's host.
      expect(proxyHost).not.toBe('127.0.0.1:7081');
      const proxy = `http://${agentToken}:shop@${proxyHost}`;
      for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy']) {
        expect(report.env[name]).toBe(proxy);
      }
      expect(report.env.NO_PROXY).toBe('localhost,127.0.0.1,::1,internal.corp');
      expect(report.env.no_proxy).toBe(report.env.NO_PROXY);
      expect(report.env.NODE_USE_ENV_PROXY).toBe('1');
      expect(report.env.VECTRA_ADDR).toBe(addr);
      expect(report.env.VECTRA_TOKEN).toBe(agentToken);
      expect(report.env.VECTRA_VAULT).toBe('shop');
      for (const name of [
        'SSL_CERT_FILE',
        'REQUESTS_CA_BUNDLE',
        'CURL_CA_BUNDLE',
        'GIT_SSL_CAINFO',
        'AWS_CA_BUNDLE',
        'DENO_CERT',
      ]) {
        expect(report.env[name]).toBe(join(report.dir, 'ca-bundle.pem'));
      }
      expect(report.env.NODE_EXTRA_CA_CERTS).toBe(join(report.dir, 'vectra-ca.pem'));
      expect(report.dirMode).toBe(0o700);
      expect(report.vectraCa.trim()).toBe(caPem);
      expect(report.bundle).toContain(caPem);
      expect(report.bundle).toContain(rootCertificates[0].trim());
      expect(JSON.stringify(report.env)).not.toContain(adminToken);
      expect(report.env.VECTRA_ADMIN_TOKEN).toBeUndefined();
      expect(existsSync(report.dir)).toBe(false);
    });

    it("exits with the child's exit code", async () => {
      const result = await runVectra(['--', process.execPath, '-e', 'process.exit(7)'], agentEnv());
      expect(result.stderr).toBe('');
      expect(result.code).toBe(7);
    });

    it('passes stdin through to the child', async () => {
      const child = startRun(
        ['--', process.execPath, '-e', 'process.stdin.pipe(process.stdout)'],
        agentEnv(),
      );
      const done = finished(child);
      child.stdin!.end('hello through vectra run\n');
      const result = await done;
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('hello through vectra run\n');
      expect(result.code).toBe(0);
    });

    it('forwards SIGTERM to the child and exits with its code', async () => {
      const child = startRun(
        [
          '--',
          process.execPath,
          '-e',
          "process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(42); }); console.log('ready'); setInterval(() => {}, 1000);",
        ],
        agentEnv(),
      );
      const done = finished(child);
      const ready = new Promise<void>((resolve) => {
        let seen = '';
        child.stdout!.on('data', (d: Buffer) => {
          seen += d.toString();
          if (seen.includes('ready')) resolve();
        });
      });
      // If vectra exits first (it refused to run the child), the assertions below say why.
      await Promise.race([ready, done]);
      child.kill('SIGTERM');
      const result = await done;
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('child got SIGTERM');
      expect(result.code).toBe(42);
    });

    it('a command that does not exist exits 127 with one line', async () => {
      const result = await runVectra(['--', 'vectra-no-such-command-xyz'], agentEnv());
      expect(result.stderr).toBe('vectra: command not found: vectra-no-such-command-xyz\n');
      expect(result.code).toBe(127);
    });

    it('accepts the AGENT_VAULT_* aliases', async () => {
      const result = await runVectra(['--', process.execPath, '-e', PRINT_ENV], {
        AGENT_VAULT_ADDR: addr,
        AGENT_VAULT_TOKEN: agentToken,
        AGENT_VAULT_VAULT: 'shop',
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const report = childReport(result.stdout);
      expect(report.env.VECTRA_TOKEN).toBe(agentToken);
      expect(Object.keys(report.env).filter((k) => k.startsWith('AGENT_VAULT_'))).toEqual([]);
    });
  });

  describe('usage errors (exit 2, nothing runs)', () => {
    it('"vault is required in agent mode"', async () => {
      const result = await runVectra(['--', process.execPath, '-e', ''], {
        VECTRA_ADDR: addr,
        VECTRA_TOKEN: agentToken,
      });
      expect(result.stderr).toContain('vectra: vault is required in agent mode');
      expect(result.code).toBe(2);
    });

    it('"--ttl has no effect when VECTRA_TOKEN is supplied"', async () => {
      const result = await runVectra(['--ttl', '1h', '--', process.execPath, '-e', ''], agentEnv());
      expect(result.stderr).toContain('vectra: --ttl has no effect when VECTRA_TOKEN is supplied');
      expect(result.code).toBe(2);
    });
  });

  describe("the gateway's forward proxy, found through /discover", () => {
    it('agent mode: the child reaches the upstream through the proxy without --proxy or VECTRA_PROXY', async () => {
      const path = '/agent-auto';
      const result = await runVectra(
        ['--', process.execPath, '-e', undiciFetchScript(`${upstream.httpsUrl}${path}`)],
        agentEnv(),
      );
      expectProxied(result, path);
    });

    it('local mode: the child reaches the upstream through the proxy without --proxy or VECTRA_PROXY', async () => {
      const path = '/local-auto';
      const result = await runVectra(
        [
          '--vault',
          'shop',
          '--',
          process.execPath,
          '-e',
          undiciFetchScript(`${upstream.httpsUrl}${path}`),
        ],
        loggedIn(),
      );
      expectProxied(result, path);
    });

    it('VECTRA_PROXY wins over the advertised port, and --proxy over both', async () => {
      const fromEnv = await runVectra(
        ['--', process.execPath, '-e', PRINT_ENV],
        agentEnv({ VECTRA_PROXY: 'http://127.0.0.1:9998' }),
      );
      expect(fromEnv.stderr).toBe('');
      expect(childReport(fromEnv.stdout).env.HTTPS_PROXY).toBe(
        `http://${agentToken}:shop@127.0.0.1:9998`,
      );
      const fromFlag = await runVectra(
        ['--proxy', 'http://127.0.0.1:9999', '--', process.execPath, '-e', PRINT_ENV],
        { ...loggedIn(), VECTRA_PROXY: 'http://127.0.0.1:9998' },
      );
      expect(fromFlag.stderr).toBe('');
      expect(childReport(fromFlag.stdout).env.HTTPS_PROXY).toMatch(
        /^http:\/\/vec_sess_[^:]+:default@127\.0\.0\.1:9999$/,
      );
    });
  });

  describe('local mode', () => {
    it('mints a session for the vault with the saved admin login and --ttl (--proxy wins)', async () => {
      const home = tempDir('vectra-home-');
      saveLogin({ VECTRA_CONFIG_HOME: home }, { addr, token: adminToken });
      const before = Date.now();
      const result = await runVectra(
        [
          '--vault',
          'shop',
          '--ttl',
          '1h',
          '--proxy',
          'http://127.0.0.1:9999',
          '--',
          process.execPath,
          '-e',
          PRINT_ENV,
        ],
        { VECTRA_CONFIG_HOME: home },
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const report = childReport(result.stdout);
      const token: string = report.env.VECTRA_TOKEN;
      expect(token).toMatch(/^vec_sess_/);
      expect(report.env.HTTPS_PROXY).toBe(`http://${token}:shop@127.0.0.1:9999`);
      expect(report.env.VECTRA_VAULT).toBe('shop');
      expect(JSON.stringify(report.env)).not.toContain(adminToken);
      // Other tests mint sessions for `shop` too: this run's is the one created since `before`.
      const sessions = (await gateway.identity.listSessions('shop')).filter(
        (s) => Date.parse(s.createdAt) >= before,
      );
      expect(sessions).toHaveLength(1);
      const lifetime = Date.parse(sessions[0].expiresAt) - before;
      expect(lifetime).toBeGreaterThan(3600_000 - 60_000);
      expect(lifetime).toBeLessThanOrEqual(3600_000 + 60_000);
    });
  });
});
