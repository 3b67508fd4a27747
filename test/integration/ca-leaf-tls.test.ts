/**
 * Real TLS handshakes against leaves from the cache: a server picks its context by SNI
 * (SNICallback → secureContextFor), clients trust only Vectra's CA and check the name the
 * normal way (Node's tls.connect; curl). IP literals, which carry no SNI, are served the
 * context for the address (as the CONNECT handler does) and checked against the IP SAN.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { TLSSocket, checkServerIdentity, connect, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import {
  loadCertificateAuthority,
  type CertificateAuthority,
} from '../../src/proxy/certificate-authority';
import {
  createLeafCertificateCache,
  type LeafCertificateCache,
} from '../../src/proxy/leaf-certificates';
import { createCipher } from '../../src/vault/crypto';
import { tempDir } from '../helpers/temp-dir';
import { memorySettings } from '../helpers/settings';

let ca: CertificateAuthority;
let cache: LeafCertificateCache;
const servers: Server[] = [];

beforeAll(async () => {
  ca = await loadCertificateAuthority({
    proxy: { CaCertFile: '', CaKeyFile: '' },
    settings: memorySettings(),
    cipher: createCipher(randomBytes(32)),
  });
  cache = createLeafCertificateCache({ ca, size: 100, validityHours: 72 });
});
afterAll(async () => {
  cache.close();
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
});

/**
 * A TLS server answering "hello <servername>": a TCP server whose sockets become server-side
 * TLSSockets, as in the MITM listener; here SNI picks the leaf (the MITM listener always serves
 * the CONNECT host's), `fallback` serves a client without.
 */
async function tlsServer(host: string, fallback?: SecureContext): Promise<number> {
  const server = createNetServer((raw) => {
    const socket = new TLSSocket(raw, {
      isServer: true,
      ...(fallback ? { secureContext: fallback } : {}),
      SNICallback: (servername, done) =>
        cache.secureContextFor(servername).then(
          (context) => done(null, context),
          (error: Error) => done(error),
        ),
    });
    socket.on('secure', () => socket.end(`hello ${socket.servername || 'no-sni'}`));
    socket.on('error', () => socket.destroy());
  });
  servers.push(server);
  await new Promise<void>((listening) => server.listen(0, host, listening));
  return (server.address() as AddressInfo).port;
}

function handshake(options: {
  host: string;
  port: number;
  servername?: string;
}): Promise<{ authorized: boolean; error?: string; text: string; san?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: options.host,
      port: options.port,
      servername: options.servername,
      ca: ca.caPem(),
    });
    let text = '';
    socket.on('secureConnect', () => {
      const san = socket.getPeerCertificate().subjectaltname;
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () =>
        resolve({
          authorized: socket.authorized,
          error: socket.authorizationError?.message,
          text,
          san,
        }),
      );
    });
    socket.on('error', reject);
  });
}

describe('leaf certificates in real TLS handshakes', () => {
  it('a DNS name, chosen by SNI, is authorized by a client trusting only the CA', async () => {
    const port = await tlsServer('127.0.0.1');
    const answer = await handshake({ host: '127.0.0.1', port, servername: 'api.example.com' });
    expect(answer).toMatchObject({ authorized: true, text: 'hello api.example.com' });
    expect(answer.san).toBe('DNS:api.example.com');
    // The leaf names that host only: checked as another name, it does not pass.
    await expect(
      new Promise((resolve, reject) => {
        const socket = connect({
          host: '127.0.0.1',
          port,
          servername: 'api.example.com',
          ca: ca.caPem(),
          checkServerIdentity: (_host, cert) => checkServerIdentity('other.example.com', cert),
        });
        socket.on('secureConnect', resolve);
        socket.on('error', reject);
      }),
    ).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('a client that does not trust the CA refuses the leaf', async () => {
    const port = await tlsServer('127.0.0.1');
    await expect(
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername: 'api.example.com' });
        socket.on('secureConnect', resolve);
        socket.on('error', reject);
      }),
    ).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }); // the chain ends in our CA
  });

  it('127.0.0.1 (no SNI) is checked against the iPAddress SAN', async () => {
    const port = await tlsServer('127.0.0.1', await cache.secureContextFor('127.0.0.1'));
    const answer = await handshake({ host: '127.0.0.1', port });
    expect(answer).toMatchObject({ authorized: true, text: 'hello no-sni' });
    expect(answer.san).toBe('IP Address:127.0.0.1');
  });

  it('::1 (no SNI) is checked against the IPv6 iPAddress SAN', async () => {
    const port = await tlsServer('::1', await cache.secureContextFor('[::1]'));
    const answer = await handshake({ host: '::1', port });
    expect(answer).toMatchObject({ authorized: true, text: 'hello no-sni' });
    expect(answer.san).toBe('IP Address:0:0:0:0:0:0:0:1');
  });

  it('curl trusts the leaf with --cacert and the name resolved to the test server', async () => {
    const dir = tempDir('vectra-ca-curl-');
    try {
      writeFileSync(join(dir, 'ca.pem'), ca.caPem());
      const server = createHttpsServer(
        {
          SNICallback: (name, done) =>
            cache.secureContextFor(name).then((c) => done(null, c), done),
        },
        (_req, res) => res.end('through curl'),
      );
      servers.push(server);
      await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
      const { port } = server.address() as AddressInfo;
      const { stdout } = await promisify(execFile)('curl', [
        '--silent', '--show-error', '--cacert', join(dir, 'ca.pem'),
        '--resolve', `curl.example.test:${port}:127.0.0.1`, `https://curl.example.test:${port}/`,
      ]); // prettier-ignore
      expect(stdout).toBe('through curl');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
