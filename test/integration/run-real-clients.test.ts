/**
 * Issue 4, point 10: real clients (curl, python3's standard library, Node with undici, git over
 * HTTPS) started by `vectra run` in agent mode, with no proxy or CA flags of their own, against a
 * real gateway and a real local HTTPS upstream. The upstream must receive the injected
 * credential; the child's output and environment must hold neither the credential nor an admin
 * token. Then the refusals an agent meets, seen through curl.
 *
 * `vectra run` puts loopback (localhost, 127.0.0.1, ::1) in NO_PROXY, so the upstream listens
 * on 127.0.0.2 (Linux routes all of 127/8 to lo) with a certificate naming that address.
 */
import { randomBytes } from 'node:crypto';
import type { Gateway } from '../../src/gateway';
import { REDACTED } from '../../src/pipeline/redact-response';
import { runCli, undiciFetchScript, type CliResult } from '../helpers/cli';
import { createBareRepo, isolatedGitEnv, type BareRepo } from '../helpers/git-repo';
import { closedAfterAll, startTestGateway } from '../helpers/gateway';
import { serveDirectory, startUpstream, type TestUpstream } from '../helpers/upstream';

const SECRET = `sk_live_${randomBytes(16).toString('hex')}`;
const ADMIN_TOKEN = `vec_adm_${randomBytes(32).toString('base64url')}`;
/** The upstream: outside NO_PROXY, inside System.Proxy.NetworkAllowlist. */
const UPSTREAM_HOST = '127.0.0.2';
/** A second upstream whose certificate the gateway does not trust. */
const UNTRUSTED_HOST = '127.0.0.3';
/** No service and nobody listening: the `deny` vault refuses it before any dial. */
const UNMATCHED_HOST = '127.0.0.4';
const MAX_BODY_BYTES = 1024;

describe('vectra run with real clients (agent mode, host isolation)', () => {
  let repo: BareRepo;
  let upstream: TestUpstream;
  let untrusted: TestUpstream;
  let gateway: Gateway;
  let agentToken: string;

  beforeAll(async () => {
    repo = createBareRepo();
    upstream = await startUpstream([serveDirectory('/repo.git', repo.directory)], {
      host: UPSTREAM_HOST,
    });
    untrusted = await startUpstream([], { host: UNTRUSTED_HOST });
    gateway = await startTestGateway({
      Security__Admin__BootstrapToken: ADMIN_TOKEN,
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__Proxy__MaxRequestBodyBytes: String(MAX_BODY_BYTES),
    });
    const { vaults } = gateway;
    await vaults.createVault({ name: 'agents' }); // unmatched hosts: deny (the default)
    await vaults.setCredential('agents', 'API_KEY', SECRET);
    for (const [name, host] of [
      ['local', `${UPSTREAM_HOST}:${upstream.httpsPort}`],
      ['untrusted', `${UNTRUSTED_HOST}:${untrusted.httpsPort}`],
    ]) {
      await vaults.createService('agents', {
        name,
        host,
        auth: { type: 'bearer', credential: 'API_KEY' },
      });
    }
    // Forwards anything, without credentials: only the SSRF guard stands in the way.
    await vaults.createVault({ name: 'open', unmatchedHosts: 'passthrough' });
    agentToken = (
      await gateway.identity.createAgent({ name: 'runner', vaults: ['agents', 'open'] })
    ).token;
  });

  closedAfterAll(
    () => gateway,
    () => [untrusted, upstream],
  );

  /**
   * `vectra run -- <command…>` in agent mode, without VECTRA_PROXY: the proxy's port (random
   * here) comes from /discover. The environment also holds what must never reach the child: an
   * admin token, the gateway's own configuration and a VECTRA_SECRET_* value.
   */
  function vectraRun(command: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return runCli(['run', '--', ...command], {
      env: isolatedGitEnv({
        VECTRA_ADDR: gateway.urls.http,
        VECTRA_TOKEN: agentToken,
        VECTRA_VAULT: 'agents',
        VECTRA_ADMIN_TOKEN: ADMIN_TOKEN,
        Security__Admin__BootstrapToken: ADMIN_TOKEN,
        VECTRA_SECRET_API_KEY: SECRET,
        ...extra,
      }),
    });
  }

  const url = (path: string) => `${upstream.httpsUrl}${path}`;

  function expectNothingSecretIn(result: CliResult): void {
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(ADMIN_TOKEN);
    }
  }

  function expectCredentialInjected(): void {
    expect(upstream.received.length).toBeGreaterThan(0);
    for (const got of upstream.received) {
      expect(got.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(got.headers['proxy-authorization']).toBeUndefined();
    }
  }

  /** The upstream's JSON echo of the request, as the child printed it. */
  function echoed(stdout: string): { url: string; headers: Record<string, string> } {
    return JSON.parse(stdout);
  }

  describe('each client reaches the upstream with the credential injected', () => {
    it('curl', async () => {
      const result = await vectraRun(['curl', '-sS', url('/curl')]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const answer = echoed(result.stdout);
      expect(answer.url).toBe('/curl');
      // The upstream echoed the credential; the child sees it redacted.
      expect(answer.headers.authorization).toBe(`Bearer ${REDACTED}`);
      expectCredentialInjected();
      expectNothingSecretIn(result);
    });

    it('python3 (urllib, standard library)', async () => {
      const script =
        'import urllib.request;' +
        `print(urllib.request.urlopen(${JSON.stringify(url('/py'))}).read().decode())`;
      const result = await vectraRun(['python3', '-c', script]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(echoed(result.stdout).url).toBe('/py');
      expectCredentialInjected();
      expectNothingSecretIn(result);
    });

    it('Node with undici (EnvHttpProxyAgent; the CA from NODE_EXTRA_CA_CERTS)', async () => {
      const script = undiciFetchScript(url('/undici'));
      const result = await vectraRun([process.execPath, '-e', script]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^200 /);
      expect(echoed(result.stdout.slice(4)).url).toBe('/undici');
      expectCredentialInjected();
      expectNothingSecretIn(result);
    });

    it('git over HTTPS (dumb protocol): ls-remote lists the commit', async () => {
      const result = await vectraRun(['git', 'ls-remote', url('/repo.git')]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n')).toContain(`${repo.commit}\t${repo.ref}`);
      expect(upstream.received.map((r) => r.url)).toContain(
        '/repo.git/info/refs?service=git-upload-pack',
      );
      expectCredentialInjected();
      expectNothingSecretIn(result);
    });

    it("the child's environment holds the proxy and CA settings, and no secret or admin token", async () => {
      const result = await vectraRun([
        process.execPath,
        '-e',
        'process.stdout.write(JSON.stringify(process.env))',
      ]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expectNothingSecretIn(result);
      const env = JSON.parse(result.stdout) as NodeJS.ProcessEnv;
      expect(env.HTTPS_PROXY).toContain(`@${new URL(gateway.urls.proxy).host}`);
      expect(env.NO_PROXY?.split(',')).not.toContain(UPSTREAM_HOST);
      expect(env.NODE_EXTRA_CA_CERTS).toBeTruthy();
      expect(env.VECTRA_ADMIN_TOKEN).toBeUndefined();
      expect(env.VECTRA_SECRET_API_KEY).toBeUndefined();
      expect(env.Security__Admin__BootstrapToken).toBeUndefined();
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('refusals, seen through curl', () => {
    /** curl with the response head shown and a failing exit code (22) on HTTP ≥ 400. */
    const curl = (args: string[], extra?: NodeJS.ProcessEnv) =>
      vectraRun(['curl', '-sS', '-i', '--fail-with-body', ...args], extra);

    function expectRefusal(result: CliResult, status: number, code: string): void {
      expect(result.code).toBe(22);
      expect(result.stdout).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `, 'm'));
      expect(result.stdout).toMatch(new RegExp(`^x-vectra-error: ${code}\\r?$`, 'im'));
      expect(result.stdout).toContain(`"code":"${code}"`);
      expectNothingSecretIn(result);
    }

    it('CONNECT to a cloud metadata address: VEC_UPSTREAM_BLOCKED', async () => {
      const result = await curl(['https://169.254.169.254/latest/meta-data/'], {
        VECTRA_VAULT: 'open',
      });
      expectRefusal(result, 403, 'VEC_UPSTREAM_BLOCKED');
    });

    it('absolute-form http:// to a cloud metadata address: VEC_UPSTREAM_BLOCKED', async () => {
      const result = await curl(['http://169.254.169.254/latest/meta-data/'], {
        VECTRA_VAULT: 'open',
      });
      expectRefusal(result, 403, 'VEC_UPSTREAM_BLOCKED');
    });

    it('a host no service matches, in a vault that denies them: VEC_UNMATCHED_HOST_DENIED', async () => {
      const result = await curl([`https://${UNMATCHED_HOST}:${upstream.httpsPort}/x`]);
      expectRefusal(result, 403, 'VEC_UNMATCHED_HOST_DENIED');
      expect(upstream.received).toHaveLength(0);
    });

    it('an upstream whose certificate is not trusted: VEC_UPSTREAM_TLS_INVALID', async () => {
      const result = await curl([`${untrusted.httpsUrl}/x`]);
      expectRefusal(result, 502, 'VEC_UPSTREAM_TLS_INVALID');
      expect(untrusted.received).toHaveLength(0);
    });

    it('a body over System.Proxy.MaxRequestBodyBytes: VEC_REQUEST_TOO_LARGE', async () => {
      const result = await curl(['--data-binary', 'x'.repeat(4 * MAX_BODY_BYTES), url('/big')]);
      expectRefusal(result, 413, 'VEC_REQUEST_TOO_LARGE');
      expect(upstream.received).toHaveLength(0);
    });

    it('a Host header inside the tunnel that differs from the CONNECT authority: VEC_TUNNEL_HOST_MISMATCH', async () => {
      const result = await curl(['-H', 'Host: evil.example', url('/x')]);
      expectRefusal(result, 421, 'VEC_TUNNEL_HOST_MISMATCH');
      expect(upstream.received).toHaveLength(0);
    });

    it('a bad token: `vectra run` fails fast and the command never runs', async () => {
      const result = await vectraRun(['curl', '-sS', url('/never')], {
        VECTRA_TOKEN: 'garbage',
      });
      expect(result.stderr).toContain('vectra: agent token rejected by gateway (HTTP 401)');
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(upstream.received).toHaveLength(0);
      expectNothingSecretIn(result);
    });
  });
});
