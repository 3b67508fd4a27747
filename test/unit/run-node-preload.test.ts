/**
 * The preload `vectra run` puts in NODE_OPTIONS: how the option is written, and what the file
 * does to a real `node` child with and without proxy variables (the traffic itself is tested in
 * test/integration/run-node-stacks.test.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  NODE_PRELOAD_FILE,
  nodeOptionsWithPreload,
  requireOption,
} from '../../src/isolation/node-preload';
import { buildChildEnv, type ChildEnvOptions } from '../../src/isolation/host-run';
import { tempDir } from '../helpers/temp-dir';

/** Runs `node -e script` with exactly `env` (plus PATH); stdout, stderr and the status. */
function node(script: string, env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

const PROXY = 'http://vec_agt_x:shop@127.0.0.1:9';

describe('vectra run: the Node preload in NODE_OPTIONS', () => {
  it('ships as a plain file two folders above src/isolation', () => {
    expect(existsSync(NODE_PRELOAD_FILE)).toBe(true);
    expect(NODE_PRELOAD_FILE).toMatch(/[/\\]preload[/\\]node-proxy\.js$/);
  });

  it('quotes the path, escaping backslashes and double quotes', () => {
    expect(requireOption('/opt/vectra/preload/node-proxy.js')).toBe(
      '--require "/opt/vectra/preload/node-proxy.js"',
    );
    expect(requireOption('C:\\Program Files\\a"b.js')).toBe(
      '--require "C:\\\\Program Files\\\\a\\"b.js"',
    );
  });

  it("goes in front of the user's options, once", () => {
    const file = '/opt/v/node-proxy.js';
    expect(nodeOptionsWithPreload(undefined, file)).toBe('--require "/opt/v/node-proxy.js"');
    expect(nodeOptionsWithPreload('  ', file)).toBe('--require "/opt/v/node-proxy.js"');
    const once = nodeOptionsWithPreload('--max-old-space-size=512', file);
    expect(once).toBe('--require "/opt/v/node-proxy.js" --max-old-space-size=512');
    expect(nodeOptionsWithPreload(once, file)).toBe(once);
  });

  it('buildChildEnv sets NODE_OPTIONS only when given a preload', () => {
    const opts: ChildEnvOptions = {
      addr: 'http://gw:7080',
      token: 't',
      vault: 'v',
      proxyUrl: PROXY,
      noProxy: 'localhost',
      vectraCaFile: '/tmp/ca.pem',
      bundleFile: '/tmp/bundle.pem',
    };
    const base = { NODE_OPTIONS: '--inspect=0' };
    expect(buildChildEnv(base, opts).NODE_OPTIONS).toBe('--inspect=0');
    expect(buildChildEnv(base, { ...opts, nodePreload: '/p.js' }).NODE_OPTIONS).toBe(
      '--require "/p.js" --inspect=0',
    );
  });

  it('a path with spaces, quotes and backslashes loads, and the other options still apply', () => {
    const dir = join(tempDir('vectra-preload-'), 'with space', 'a"quote\\and backslash');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'marker.js');
    writeFileSync(file, 'globalThis.preloadMarker = "loaded";\n');
    const result = node(
      'process.stdout.write(globalThis.preloadMarker + " " + require("node:http").maxHeaderSize)',
      { NODE_OPTIONS: nodeOptionsWithPreload('--max-http-header-size=32768', file) },
    );
    expect(result).toEqual({ stdout: 'loaded 32768', stderr: '', status: 0 });
  });

  /** What the child's global agents and fetch dispatcher are, and whether undici got loaded. */
  const INSPECT = `process.stdout.write(JSON.stringify({
  http: require('node:http').globalAgent.constructor.name,
  https: require('node:https').globalAgent.constructor.name,
  dispatcher: Object.getOwnPropertyDescriptor(globalThis, Symbol.for('undici.globalDispatcher.1')) ? 'lazy' : 'none',
  undiciLoaded: Object.keys(require.cache).some((f) => f.includes('undici')),
}))`;

  /** Runs INSPECT with the preload and `env`; checks it ran silently, returns what it saw. */
  function inspected(env: NodeJS.ProcessEnv = {}) {
    const result = node(INSPECT, { NODE_OPTIONS: requireOption(NODE_PRELOAD_FILE), ...env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    return JSON.parse(result.stdout);
  }

  it('changes nothing and prints nothing without proxy variables', () => {
    expect(inspected()).toEqual({
      http: 'Agent',
      https: 'Agent',
      dispatcher: 'none',
      undiciLoaded: false,
    });
  });

  it('with proxy variables: proxy agents, a lazy fetch dispatcher, undici not yet loaded, silent', () => {
    expect(inspected({ HTTPS_PROXY: PROXY, HTTP_PROXY: PROXY, NO_PROXY: 'localhost' })).toEqual({
      http: 'ProxyHttpAgent',
      https: 'ProxyHttpsAgent',
      dispatcher: 'lazy',
      undiciLoaded: false,
    });
  });

  it("fetch's global dispatcher is undici's EnvHttpProxyAgent once asked for", () => {
    const result = node(
      `process.stdout.write(globalThis[Symbol.for('undici.globalDispatcher.1')].constructor.name)`,
      { NODE_OPTIONS: requireOption(NODE_PRELOAD_FILE), https_proxy: PROXY },
    );
    expect(result).toEqual({ stdout: 'EnvHttpProxyAgent', stderr: '', status: 0 });
  });

  describe('against a stand-in proxy on loopback', () => {
    const seen: IncomingMessage[] = [];
    const proxy = createServer((req, res) => {
      seen.push(req);
      res.end('from the proxy');
    });
    proxy.on('connect', (req: IncomingMessage, socket) => {
      seen.push(req);
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nX-Vectra-Error: VEC_TEST\r\nContent-Length: 0\r\n\r\n',
      );
    });
    let proxyUrl = '';

    beforeAll(async () => {
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      proxyUrl = `http://vec_agt_x:shop@127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      proxy.closeAllConnections();
      proxy.close();
    });
    beforeEach(() => {
      seen.length = 0;
    });

    /** The child runs while this process's proxy answers, so not spawnSync. */
    async function child(script: string) {
      const proc = spawn(process.execPath, ['-e', script], {
        env: {
          PATH: process.env.PATH,
          NODE_OPTIONS: requireOption(NODE_PRELOAD_FILE),
          HTTP_PROXY: proxyUrl,
          HTTPS_PROXY: proxyUrl,
          NO_PROXY: 'localhost',
        },
      });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [status] = await once(proc, 'close');
      return { stdout, stderr, status };
    }

    const basic = `Basic ${Buffer.from('vec_agt_x:shop').toString('base64')}`;

    it('http: absolute form with Proxy-Authorization, also for headers given as an array', async () => {
      const result = await child(`
const http = require('node:http');
const req = http.request({ host: 'example.invalid', path: '/a?b=1', headers: ['Host', 'example.invalid', 'X-Test', 'yes'] }, (res) => {
  res.setEncoding('utf8');
  res.on('data', (d) => process.stdout.write(d));
});
req.end();`);
      expect(result).toEqual({ stdout: 'from the proxy', stderr: '', status: 0 });
      expect(seen).toHaveLength(1);
      expect(seen[0].url).toBe('http://example.invalid:80/a?b=1');
      expect(seen[0].headers['proxy-authorization']).toBe(basic);
      expect(seen[0].headers['x-test']).toBe('yes');
      expect(seen[0].headers.host).toBe('example.invalid');
    });

    it('https: a refused CONNECT is an ERR_PROXY_TUNNEL error naming the status and code', async () => {
      const result = await child(`
require('node:https')
  .get('https://example.invalid:8443/x', () => process.exit(3))
  .on('error', (err) => process.stdout.write(err.code + ': ' + err.message));`);
      expect(result).toEqual({
        stdout:
          'ERR_PROXY_TUNNEL: the proxy refused the tunnel to example.invalid:8443: HTTP 407 VEC_TEST',
        stderr: '',
        status: 0,
      });
      expect(seen).toHaveLength(1);
      expect(seen[0].method).toBe('CONNECT');
      expect(seen[0].url).toBe('example.invalid:8443');
      expect(seen[0].headers['proxy-authorization']).toBe(basic);
    });
  });
});
