/**
 * Node's own HTTP stacks under `vectra run`, on the Node running the tests (20 ignores
 * NODE_USE_ENV_PROXY): global fetch, https.get, http.get, axios and undici's request(), each
 * with no proxy or CA settings of its own, reach a real HTTPS (or HTTP) upstream through a real
 * gateway, which injects the credential. The preload in NODE_OPTIONS does the routing; a host in
 * NO_PROXY is called directly.
 *
 * `vectra run` puts loopback in NO_PROXY, so the proxied upstream listens on 127.0.0.2 (Linux
 * routes all of 127/8 to lo) and the bypassed one on 127.0.0.1. axios counts all of 127/8 as
 * covered by a NO_PROXY naming 127.0.0.1, so its own proxy support leaves 127.0.0.2 to
 * https.globalAgent: the preload's agent is what takes it through the gateway here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Gateway } from '../../src/gateway';
import { REDACTED } from '../../src/pipeline/redact-response';
import { runCli, type CliResult } from '../helpers/cli';
import { closedAfterAll, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const SECRET = `sk_live_${randomBytes(16).toString('hex')}`;
const UPSTREAM_HOST = '127.0.0.2';
/** Resolved here: the child runs in another directory. */
const AXIOS = require.resolve('axios');
const UNDICI = require.resolve('undici');

/**
 * `node -e` scripts: each GETs the URL in argv[1] with one stack and prints the body (the
 * upstream's JSON echo of the request it got).
 */
const STACKS: Record<string, string> = {
  fetch: `fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))`,
  'https.get': `
const url = process.argv[1];
require(url.startsWith('https:') ? 'node:https' : 'node:http').get(url, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => process.stdout.write(body));
});`,
  axios: `
require(${JSON.stringify(AXIOS)})
  .get(process.argv[1], { responseType: 'text' })
  .then((res) => process.stdout.write(res.data));`,
  'undici request()': `
require(${JSON.stringify(UNDICI)})
  .request(process.argv[1])
  .then((res) => res.body.text())
  .then((t) => process.stdout.write(t));`,
};

describe('vectra run: Node fetch, http/https, axios and undici go through the gateway', () => {
  let upstream: TestUpstream;
  let local: TestUpstream;
  let gateway: Gateway;
  let agentToken: string;

  beforeAll(async () => {
    upstream = await startUpstream([], { host: UPSTREAM_HOST });
    local = await startUpstream();
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    const { vaults } = gateway;
    await vaults.createVault({ name: 'agents' }); // unmatched hosts: deny
    await vaults.setCredential('agents', 'API_KEY', SECRET);
    await vaults.createService('agents', {
      name: 'tls',
      host: `${UPSTREAM_HOST}:${upstream.httpsPort}`,
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    await vaults.createService('agents', {
      name: 'plain',
      host: `${UPSTREAM_HOST}:${upstream.httpPort}`,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    agentToken = (await gateway.identity.createAgent({ name: 'node', vaults: ['agents'] })).token;
  });

  closedAfterAll(
    () => gateway,
    () => [local, upstream],
  );

  /** `vectra run [flags] -- node -e <script> <url>` in agent mode. */
  function vectraRun(
    script: string,
    url: string,
    options: { flags?: string[]; env?: NodeJS.ProcessEnv } = {},
  ): Promise<CliResult> {
    return runCli(['run', ...(options.flags ?? []), '--', process.execPath, '-e', script, url], {
      env: {
        VECTRA_ADDR: gateway.urls.http,
        VECTRA_TOKEN: agentToken,
        VECTRA_VAULT: 'agents',
        ...options.env,
      },
    });
  }

  function expectAnswered(result: CliResult, path: string): Record<string, any> {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(SECRET);
    const answer = JSON.parse(result.stdout);
    expect(answer.url).toBe(path);
    return answer;
  }

  describe.each(Object.entries(STACKS))('%s', (name, script) => {
    const slug = name.replace(/\W+/g, '-');

    it('reaches an HTTPS upstream with the credential injected', async () => {
      const path = `/tls-${slug}`;
      const result = await vectraRun(script, `${upstream.httpsUrl}${path}`);
      const answer = expectAnswered(result, path);
      // The upstream echoed the credential; the child sees it redacted.
      expect(answer.headers.authorization).toBe(`Bearer ${REDACTED}`);
      expect(upstream.received.map((r) => r.url)).toEqual([path]);
      expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(upstream.received[0].headers['proxy-authorization']).toBeUndefined();
    });

    it('reaches a plain-HTTP upstream with the credential injected', async () => {
      const path = `/plain-${slug}`;
      const result = await vectraRun(script, `${upstream.httpUrl}${path}`);
      expectAnswered(result, path);
      expect(upstream.received.map((r) => r.url)).toEqual([path]);
      expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(upstream.received[0].headers['proxy-authorization']).toBeUndefined();
    });

    it('calls a host in NO_PROXY directly', async () => {
      // Through the gateway this vault would refuse the host: no service matches it.
      const path = `/direct-${slug}`;
      const result = await vectraRun(script, `http://127.0.0.1:${local.httpPort}${path}`);
      const answer = expectAnswered(result, path);
      expect(answer.headers.authorization).toBeUndefined();
      expect(answer.headers['proxy-authorization']).toBeUndefined();
      expect(local.received.map((r) => r.url)).toEqual([path]);
      expect(upstream.received).toHaveLength(0);
    });
  });

  /** A child that prints its NODE_OPTIONS and the preloaded file, as a JSON line. */
  const REPORT_PRELOAD = `process.stdout.write(JSON.stringify({
  nodeOptions: process.env.NODE_OPTIONS ?? null,
  preloaded: Object.keys(require.cache).filter((f) => f.endsWith('node-proxy.js')),
}))`;

  it("adds the preload in front of the user's NODE_OPTIONS, which stay", async () => {
    const result = await vectraRun(REPORT_PRELOAD, '', {
      env: { NODE_OPTIONS: '--max-http-header-size=32768' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.preloaded).toHaveLength(1);
    expect(existsSync(report.preloaded[0])).toBe(true);
    expect(report.nodeOptions).toBe(
      `--require ${JSON.stringify(report.preloaded[0])} --max-http-header-size=32768`,
    );
  });

  it('--no-node-preload passes NODE_OPTIONS on unchanged', async () => {
    const result = await vectraRun(REPORT_PRELOAD, '', {
      flags: ['--no-node-preload'],
      env: { NODE_OPTIONS: '--max-http-header-size=32768' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      nodeOptions: '--max-http-header-size=32768',
      preloaded: [],
    });
  });
});
