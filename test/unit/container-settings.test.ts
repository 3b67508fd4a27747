/**
 * What the Linux image's environment changes: APP_VERSION is what `vectra --version` prints;
 * VECTRA_RUNNING_IN_CONTAINER warns about a loopback Host (published ports cannot reach it);
 * `vectra health` calls the configured listener, loopback when it binds every interface.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { containerWarnings, localHost } from '../../src/config/container';
import { loadConfig } from '../../src/config/loader';
import { appVersion, main, VERSION } from '../../src/cli/main';
import type { Io } from '../../src/cli/output';

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

const configWith = (env: NodeJS.ProcessEnv) =>
  loadConfig({ baseDir: '/nonexistent-vectra-base', env }).config;

describe('APP_VERSION', () => {
  it('is what --version prints when set', async () => {
    const io = captureIo();
    expect(await main(['--version'], io, { APP_VERSION: '7.8.9-image' })).toBe(0);
    expect(io.stdout.join('')).toBe('7.8.9-image\n');
  });

  it('falls back to the package version when unset or blank', () => {
    expect(appVersion({})).toBe(VERSION);
    expect(appVersion({ APP_VERSION: '  ' })).toBe(VERSION);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('VECTRA_RUNNING_IN_CONTAINER', () => {
  const inContainer = { VECTRA_RUNNING_IN_CONTAINER: 'true' };

  it('warns when the listeners bind loopback in a container', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      const env = { ...inContainer, System__Server__Host: host };
      const [warning, ...rest] = containerWarnings(configWith(env), env);
      expect(rest).toEqual([]);
      expect(warning).toContain(`System.Server.Host is ${host} in a container`);
      expect(warning).toContain('System__Server__Host=0.0.0.0');
    }
  });

  it('says nothing for the default Host, or outside a container', () => {
    expect(containerWarnings(configWith(inContainer), inContainer)).toEqual([]);
    const outside = { System__Server__Host: '127.0.0.1' };
    expect(containerWarnings(configWith(outside), outside)).toEqual([]);
    const off = { VECTRA_RUNNING_IN_CONTAINER: 'false', System__Server__Host: '127.0.0.1' };
    expect(containerWarnings(configWith(off), off)).toEqual([]);
  });

  it('the default Host binds every interface, so published ports reach the gateway', () => {
    expect(configWith(inContainer).System.Server.Host).toBe('0.0.0.0');
  });
});

describe('vectra health: the address it calls', () => {
  it('is loopback for a wildcard Host, the Host itself otherwise', () => {
    expect(localHost('0.0.0.0')).toBe('127.0.0.1');
    expect(localHost('::')).toBe('127.0.0.1');
    expect(localHost('10.1.2.3')).toBe('10.1.2.3');
    expect(localHost('fd00::5')).toBe('[fd00::5]');
  });

  describe('against a listener on a specific address', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'Healthy', healthCheckDuration: '00:00:00', checks: {} }));
      });
      server.listen(0, '127.0.0.2');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => server.close());

    it('reaches the gateway bound to System.Server.Host', async () => {
      const io = captureIo();
      const env = { System__Server__Host: '127.0.0.2', System__Server__Http__Port: String(port) };
      expect(await main(['health'], io, env)).toBe(0);
      expect(io.stdout[0]).toBe(`Healthy (http://127.0.0.2:${port}, 00:00:00)`);
    });
  });
});
