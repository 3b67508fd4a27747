/**
 * TLS clients with an unusual SNI inside a CONNECT tunnel: a name with a port, an IP literal
 * sent as a name, no SNI at all, or another name than the tunnel's. Each handshake succeeds with
 * a leaf for the CONNECT host (requests inside stay bound to that host), the request is served,
 * and the tunnel logs one warning, however many requests it carries.
 */
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';
import {
  basicProxyAuth,
  connectTunnel,
  passthroughAgent,
  RawConnection,
  tlsOverTunnel,
} from '../helpers/raw-http';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { recordingLogger } from '../helpers/waiting-and-processes';

const VAULT = 'sni';

/** Sends GET requests one after another on the connection; resolves with their statuses. */
async function getAll(tls: TLSSocket, host: string, paths: string[]): Promise<number[]> {
  const connection = new RawConnection(tls);
  const statuses: number[] = [];
  for (const path of paths) {
    statuses.push(
      (await connection.request(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)).status,
    );
  }
  return statuses;
}

describe('TLS clients with an unusual SNI', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let token: string;
  let ca: string;
  let proxy: URL;
  const logger = recordingLogger();

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startTestGateway(
      {
        System__Proxy__UpstreamCaFile: upstream.caFile,
        System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      },
      { logger },
    );
    ({ token, ca } = await passthroughAgent(gateway, VAULT, 'sni-agent'));
    proxy = new URL(gateway.urls.proxy);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const tunnel = (authority: string) =>
    connectTunnel(Number(proxy.port), authority, basicProxyAuth(token, VAULT));
  const sniWarnings = () =>
    logger.lines.filter((line) => line.level === 'warn' && /SNI/.test(line.message));

  it.each([
    ['a name with a port', 'localhost:443'],
    ['an IP literal written as a name', '127.0.0.1'],
    ['no SNI', ''],
    ['another name than the tunnel', 'other.example'],
  ])(
    'accepts %s with a leaf for the CONNECT host, and warns once per tunnel',
    async (_label, sni) => {
      const before = sniWarnings().length;
      const authority = `localhost:${upstream.httpsPort}`;
      const tls = await tlsOverTunnel(await tunnel(authority), ca, sni, 'localhost');
      expect(checkServerIdentity('localhost', tls.getPeerCertificate())).toBeUndefined();
      const statuses = await getAll(tls, authority, ['/sni-first', '/sni-second']);
      tls.destroy();
      expect(statuses).toEqual([200, 200]);
      const warnings = sniWarnings().slice(before);
      expect(warnings).toHaveLength(1);
      expect(warnings[0].meta).toMatchObject({ tunnel: authority });
    },
  );

  it('does not warn for a client whose SNI is the CONNECT host', async () => {
    const before = sniWarnings().length;
    const authority = `localhost:${upstream.httpsPort}`;
    const tls = await tlsOverTunnel(await tunnel(authority), ca, 'LOCALHOST', 'localhost');
    expect(await getAll(tls, authority, ['/sni-plain'])).toEqual([200]);
    tls.destroy();
    expect(sniWarnings().slice(before)).toEqual([]);
  });

  it('does not warn for a client without SNI in a tunnel to an IP address', async () => {
    const before = sniWarnings().length;
    const authority = `127.0.0.1:${upstream.httpsPort}`;
    const tls = await tlsOverTunnel(await tunnel(authority), ca, '', '127.0.0.1');
    // One answer (the upstream's certificate names localhost only) proves the handshake is done.
    await getAll(tls, authority, ['/sni-ip']);
    tls.destroy();
    expect(sniWarnings().slice(before)).toEqual([]);
  });
});
