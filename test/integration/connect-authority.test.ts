/**
 * A CONNECT authority is parsed like the host of an absolute-form target: a host that spells an
 * IPv4 address other than in dotted decimal (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1`),
 * which the resolver still dials as that address, is refused with VEC_REQUEST_INVALID before a
 * tunnel opens. Otherwise `request.host` would read "2130706433" while the connection goes to
 * 127.0.0.1, and a policy on the host (cidr 127.0.0.0/8 here) would not see it.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';
import { basicProxyAuth, openTunnel } from '../helpers/raw-http';
import { tempDir } from '../helpers/temp-dir';

const POLICY = {
  name: 'no-loopback',
  default: 'Allow',
  rules: [
    {
      name: 'no-loopback',
      effect: 'Deny',
      reason: 'Loopback is off limits',
      conditions: [{ field: 'request.host', operator: 'cidr', value: '127.0.0.0/8' }],
    },
  ],
};

/** The proxy's answer to a CONNECT for `authority`: its status line and X-Vectra-Error. */
function connectAnswer(port: number, authority: string, auth: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`),
    );
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.destroy();
      const code = /x-vectra-error: (\S+)/i.exec(text)?.[1] ?? '';
      resolve(`${text.split('\r\n')[0].split(' ')[1]} ${code}`.trim());
    });
    socket.on('error', reject);
  });
}

describe('CONNECT authorities', () => {
  let received = 0;
  const upstream = createServer((_req, res) => {
    received += 1;
    res.end('ok');
  });
  let gateway: Gateway;
  let port: number;
  let proxyPort: number;
  let auth: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    port = (upstream.address() as AddressInfo).port;
    const dir = tempDir('vectra-connect-');
    writeFileSync(join(dir, 'p.json'), JSON.stringify(POLICY));
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__Providers__Internal__Directory: dir,
    });
    await gateway.vaults.createVault({ name: 'open', unmatchedHosts: 'passthrough' });
    const { token } = await gateway.identity.createAgent({ name: 'bot', vaults: ['open'] });
    auth = basicProxyAuth(token, 'open');
    proxyPort = Number(new URL(gateway.urls.proxy!).port);
  });

  afterAll(async () => {
    await gateway?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it.each([['2130706433'], ['0x7f000001'], ['127.1'], ['0177.0.0.1'], ['127.0.0.01']])(
    'refuses %s, an IPv4 address not written in dotted decimal',
    async (host) => {
      expect(await connectAnswer(proxyPort, `${host}:${port}`, auth)).toBe(
        '400 VEC_REQUEST_INVALID',
      );
      expect(received).toBe(0);
    },
  );

  it('refuses an authority without a port', async () => {
    expect(await connectAnswer(proxyPort, '127.0.0.1', auth)).toMatch(/^400 VEC_REQUEST_/);
  });

  it.each([[`127.0.0.1`], ['LOCALHOST.'], ['[::ffff:127.0.0.1]']])(
    'judges the canonical host of %s, so the policy on it holds',
    async (host) => {
      const tunnel = await openTunnel(proxyPort, `${host}:${port}`, auth);
      const canonical = host.toLowerCase().replace(/\.$/, '');
      try {
        const res = await tunnel.request(`GET /x HTTP/1.1\r\nHost: ${canonical}:${port}\r\n\r\n`);
        if (canonical === 'localhost') {
          expect(res.status).toBe(200);
          expect(received).toBe(1);
          received = 0;
        } else {
          expect({ status: res.status, code: res.headers['x-vectra-error'] }).toEqual({
            status: 403,
            code: 'VEC_POLICY_DENIED',
          });
          expect(received).toBe(0);
        }
      } finally {
        tunnel.close();
      }
    },
  );
});
