/**
 * A credential goes out only on the scheme and port its service names. Through the real proxy:
 * an agent that turns an HTTPS service into `http://host:port` (absolute-form, a plain CONNECT
 * tunnel or the reverse route), or opens a tunnel to a port the service does not name, reaches
 * a plain HTTP recorder without the credential (the vault passes unmatched hosts through) or is
 * refused (the vault denies them). A service declared `http` with a port gets its credential on
 * that port only.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import type { UnmatchedHostPolicy } from '../../src/vault/types';
import { curl } from '../helpers/curl';
import { closedAfterAll, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const SECRET = `sk_test_${randomBytes(12).toString('hex')}`;

describe('credentials only on the scheme and port the service names', () => {
  /** HTTPS on `httpsPort` (certificate for localhost) and a plain HTTP recorder on `httpPort`. */
  let upstream: TestUpstream;
  /** A second plain HTTP recorder: "another port" for the plain-HTTP service. */
  let other: TestUpstream;
  let gateway: Gateway;
  let caFile: string;
  const proxies: Record<string, string> = {};

  /** A vault with one bearer service per `[name, host, scheme?]`, and a proxy URL for its agent. */
  async function vault(
    name: string,
    unmatchedHosts: UnmatchedHostPolicy,
    services: Array<[string, string, ('http' | 'https')?]>,
  ): Promise<void> {
    const vaults = gateway.vaults;
    await vaults.createVault({ name, unmatchedHosts });
    await vaults.setCredential(name, 'API_KEY', SECRET);
    for (const [service, host, scheme] of services) {
      await vaults.createService(name, {
        name: service,
        host,
        ...(scheme === undefined ? {} : { scheme }),
        auth: { type: 'bearer', credential: 'API_KEY' },
      });
    }
    const { token } = await gateway.identity.createAgent({ name: `agent-${name}`, vaults: [name] });
    proxies[name] = `http://${token}:${name}@${new URL(gateway.urls.proxy!).host}`;
  }

  beforeAll(async () => {
    [upstream, other] = await Promise.all([startUpstream(), startUpstream()]);
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    // HTTPS services on the ports the upstreams really use (the scheme is the default, https).
    await vault('shop', 'passthrough', [
      ['tls', `localhost:${upstream.httpsPort}`],
      ['downgraded', `127.0.0.1:${upstream.httpPort}`],
    ]);
    await vault('strict', 'deny', [['downgraded', `127.0.0.1:${upstream.httpPort}`]]);
    // No port: HTTPS on 443 only.
    await vault('anyport', 'passthrough', [
      ['local', 'localhost'],
      ['loopback', '127.0.0.1'],
    ]);
    await vault('plain', 'passthrough', [['plain', `127.0.0.1:${upstream.httpPort}`, 'http']]);
    caFile = join(tempDir('vectra-ca-'), 'vectra-ca.pem');
    writeFileSync(caFile, await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text());
  });

  closedAfterAll(
    () => gateway,
    () => [upstream, other],
  );

  /** What the one recorded request carried as Authorization (undefined: none). */
  /** curl through `proxy` to `url`, with `flags`. */
  const curlVia = (proxy: string, url: string, ...flags: string[]) =>
    curl(['--proxy', proxy, ...flags, url]);
  const plainUrl = (path: string) => `http://127.0.0.1:${upstream.httpPort}${path}`;
  const tlsUrl = (path: string) => `https://localhost:${upstream.httpsPort}${path}`;

  function authorizationSeenBy(recorder: TestUpstream, url: string): string | undefined {
    expect(recorder.received.map((r) => r.url)).toEqual([url]);
    return recorder.received[0].headers.authorization;
  }

  it('an https service gets its credential over TLS on its port (the control)', async () => {
    const res = await curlVia(proxies.shop, tlsUrl('/tls'), '--cacert', caFile);
    expect(res.stderr).toBe('');
    expect(authorizationSeenBy(upstream, '/tls')).toBe(`Bearer ${SECRET}`);
  });

  it('absolute-form http:// to the port of an https service: forwarded without the credential', async () => {
    const res = await curlVia(proxies.shop, plainUrl('/absolute'));
    expect(res.stderr).toBe('');
    expect(authorizationSeenBy(upstream, '/absolute')).toBeUndefined();
  });

  it('plain HTTP inside a CONNECT tunnel to that port: forwarded without the credential', async () => {
    const res = await curlVia(proxies.shop, plainUrl('/tunnel'), '--proxytunnel');
    expect(res.stderr).toBe('');
    expect(authorizationSeenBy(upstream, '/tunnel')).toBeUndefined();
  });

  it('/proxy/http://… on the API port: forwarded without the credential', async () => {
    const token = new URL(proxies.shop).username;
    const res = await fetch(
      `${gateway.urls.http}/proxy/http://127.0.0.1:${upstream.httpPort}/reverse`,
      { headers: { authorization: `Bearer ${token}`, 'x-vault': 'shop' } },
    );
    expect(res.status).toBe(200);
    expect(authorizationSeenBy(upstream, '/reverse')).toBeUndefined();
  });

  it('a vault that denies unmatched hosts refuses the downgrade and sends nothing', async () => {
    const res = await curlVia(proxies.strict, plainUrl('/strict'), '-i');
    expect(res.stdout).toMatch(/^HTTP\/1\.1 403/);
    expect(res.stdout).toMatch(/x-vectra-error: VEC_UNMATCHED_HOST_DENIED/i);
    expect(res.stdout).toContain(`http://127.0.0.1:${upstream.httpPort}`);
    expect(upstream.received).toHaveLength(0);
  });

  it('a pattern without a port does not follow a TLS tunnel to another port', async () => {
    const res = await curlVia(proxies.anyport, tlsUrl('/other-port'), '--cacert', caFile);
    expect(res.stderr).toBe('');
    expect(authorizationSeenBy(upstream, '/other-port')).toBeUndefined();
  });

  it('a pattern without a port does not follow a plain CONNECT or absolute-form request to another port', async () => {
    await curlVia(proxies.anyport, plainUrl('/other-tunnel'), '--proxytunnel');
    await curlVia(proxies.anyport, plainUrl('/other-abs'));
    expect(upstream.received.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['/other-tunnel', undefined],
      ['/other-abs', undefined],
    ]);
  });

  it('an http service with a port gets its credential on that port, and only there', async () => {
    await curlVia(proxies.plain, plainUrl('/plain'));
    await curlVia(proxies.plain, plainUrl('/plain-tunnel'), '--proxytunnel');
    expect(upstream.received.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['/plain', `Bearer ${SECRET}`],
      ['/plain-tunnel', `Bearer ${SECRET}`],
    ]);
    await curlVia(proxies.plain, `http://127.0.0.1:${other.httpPort}/elsewhere`);
    expect(authorizationSeenBy(other, '/elsewhere')).toBeUndefined();
  });
});
