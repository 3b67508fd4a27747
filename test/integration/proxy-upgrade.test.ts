/**
 * Protocol upgrades through the real proxy: only `Upgrade: websocket` is relayed (inside plain
 * and TLS tunnels); any other protocol is refused with VEC_UPGRADE_REFUSED before anything is
 * dialled, since the bytes after a 101 are never judged. Entry points that do not relay upgrades
 * (absolute-form, /proxy/<url>) send the request on as plain HTTP without the upgrade headers.
 * Every upgrade leaves an audit row.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Gateway } from '../../src/gateway';
import { waitForAuditRow } from '../helpers/audit';
import { startTestGateway } from '../helpers/gateway';
import {
  basicProxyAuth,
  connectTunnel,
  passthroughAgent,
  tlsOverTunnel,
} from '../helpers/raw-http';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const VAULT = 'upgrades';

/** A loopback server that records every connection and byte, and answers any request head with a 101. */
interface Recorder {
  port: number;
  connections: number;
  bytes: () => string;
  close(): Promise<void>;
}

async function startRecorder(): Promise<Recorder> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((socket) => {
    recorder.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunk.includes('\r\n\r\n')) {
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const recorder: Recorder = {
    port: (server.address() as AddressInfo).port,
    connections: 0,
    bytes: () => Buffer.concat(chunks).toString(),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return recorder;
}

/** Writes `request` and resolves with the response head once it is complete. */
function exchangeHead(socket: Socket | TLSSocket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end >= 0) resolve(received.slice(0, end));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(request);
  });
}

function upgradeRequest(host: string, path: string, upgrade: string, extra = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: ${upgrade}\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

describe('protocol upgrades', () => {
  let upstream: TestUpstream;
  let recorder: Recorder;
  let gateway: Gateway;
  let token: string;
  let ca: string;
  let proxy: URL;
  const upgradesSeen: string[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    upstream.onUpgrade((req, socket) => {
      upgradesSeen.push(`${req.url} ${req.headers.upgrade}`);
      if (req.url === '/ws-declined') {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`,
      );
      socket.on('data', (chunk: Buffer) =>
        socket.write(Buffer.concat([Buffer.from('echo:'), chunk])),
      );
      socket.on('error', () => undefined);
    });
    recorder = await startRecorder();
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    ({ token, ca } = await passthroughAgent(gateway, VAULT, 'upgrader'));
    proxy = new URL(gateway.urls.proxy);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await recorder?.close();
  });

  const tunnel = (authority: string) =>
    connectTunnel(Number(proxy.port), authority, basicProxyAuth(token, VAULT));
  const tlsTunnel = async (authority: string) =>
    tlsOverTunnel(await tunnel(authority), ca, 'localhost');
  /** A TLS tunnel to the upstream, and the head answering an upgrade of `path` to `protocol`. */
  const upgradeOverTls = async (path: string, protocol: string) => {
    const tls = await tlsTunnel(`localhost:${upstream.httpsPort}`);
    const head = await exchangeHead(
      tls,
      upgradeRequest(`localhost:${upstream.httpsPort}`, path, protocol),
    );
    return { tls, head };
  };

  it('refuses Upgrade: h2c inside a plain tunnel with 400 VEC_UPGRADE_REFUSED, and dials nothing', async () => {
    const socket = await tunnel(`localhost:${recorder.port}`);
    const head = await exchangeHead(
      socket,
      `GET / HTTP/1.1\r\nHost: localhost:${recorder.port}\r\nUpgrade: h2c\r\n` +
        'Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    // What an attacker sends once the connection is switched: must never be relayed.
    socket.write('DELETE /admin/everything HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/x-vectra-error: VEC_UPGRADE_REFUSED/i);
    await new Promise((resolve) => socket.once('close', resolve));
    expect(recorder.connections).toBe(0);
    expect(recorder.bytes()).toBe('');
  });

  it.each([
    ['h2c', 'h2c'],
    ['a list that names websocket among others', 'websocket, h2c'],
    ['an unknown protocol', 'TLS/1.2'],
  ])('refuses %s inside a TLS tunnel, before the upstream sees it', async (_label, protocol) => {
    const path = `/refused-${randomBytes(4).toString('hex')}`;
    const { tls, head } = await upgradeOverTls(path, protocol);
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/x-vectra-error: VEC_UPGRADE_REFUSED/i);
    tls.destroy();
    expect(upgradesSeen.filter((line) => line.startsWith(path))).toEqual([]);
    expect(upstream.received.filter((r) => r.url === path)).toEqual([]);
  });

  it('relays Upgrade: websocket in any case, and records an audit row for it', async () => {
    const { tls, head } = await upgradeOverTls('/ws-audited', 'WebSocket');
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    const echoed = new Promise<void>((resolve) =>
      tls.on('data', (chunk: Buffer) => chunk.toString().includes('echo:ping') && resolve()),
    );
    tls.write('ping');
    await echoed;
    const closed = new Promise((resolve) => tls.once('close', resolve));
    tls.end();
    await closed;
    const row = await waitForAuditRow(gateway, VAULT, '/ws-audited');
    expect(row).toMatchObject({ method: 'GET', status: 101, decision: 'allow' });
    expect(row.errorCode ?? undefined).toBeUndefined();
    expect(row.bytesIn).toBeGreaterThan(0);
    expect(row.bytesOut).toBeGreaterThan(0);
  });

  it('records an audit row when the upstream declines the upgrade', async () => {
    const { tls, head } = await upgradeOverTls('/ws-declined', 'websocket');
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
    tls.destroy();
    const row = await waitForAuditRow(gateway, VAULT, '/ws-declined');
    expect(row).toMatchObject({ method: 'GET', status: 403 });
  });

  it('sends a tunnel request with Upgrade: h2c but no Connection: Upgrade on as plain HTTP, without it', async () => {
    const tls = await tlsTunnel(`localhost:${upstream.httpsPort}`);
    const head = await exchangeHead(
      tls,
      `GET /plain-tunnel HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\nUpgrade: h2c\r\n` +
        'Connection: HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    tls.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    const seen = upstream.received.find((r) => r.url === '/plain-tunnel');
    expect(seen?.headers.upgrade).toBeUndefined();
    expect(seen?.headers['http2-settings']).toBeUndefined();
  });

  /** Sends a GET with `Upgrade: h2c` (and its settings) to `url` with `headers`; resolves with the answer. */
  function sendH2c(url: URL, path: string, headers: Record<string, string>) {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path,
        headers: {
          ...headers,
          upgrade: 'h2c',
          connection: 'Upgrade, HTTP2-Settings',
          'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
        },
      });
      req.on('response', resolve);
      req.on('upgrade', () => reject(new Error('the gateway switched protocols')));
      req.on('error', reject);
      req.end();
    });
  }

  /** The upstream got `path` as plain HTTP: none of the upgrade headers. */
  function expectPlainHttp(res: IncomingMessage, path: string): void {
    res.resume();
    expect(res.statusCode).toBe(200);
    const seen = upstream.received.find((r) => r.url === path);
    expect(seen).toBeDefined();
    expect(seen?.headers.upgrade).toBeUndefined();
    expect(seen?.headers['http2-settings']).toBeUndefined();
    expect(String(seen?.headers.connection ?? '')).not.toMatch(/upgrade/i);
  }

  it('sends an absolute-form request carrying Upgrade: h2c on as plain HTTP, without the upgrade headers', async () => {
    const res = await sendH2c(proxy, `http://localhost:${upstream.httpPort}/plain-forward`, {
      host: `localhost:${upstream.httpPort}`,
      'proxy-authorization': basicProxyAuth(token, VAULT),
    });
    expectPlainHttp(res, '/plain-forward');
  });

  it('sends a /proxy/<url> request carrying Upgrade: h2c on as plain HTTP, without the upgrade headers', async () => {
    const api = new URL(gateway.urls.http);
    const res = await sendH2c(api, `/proxy/http://localhost:${upstream.httpPort}/plain-reverse`, {
      authorization: `Bearer ${token}`,
      'x-vault': VAULT,
    });
    expectPlainHttp(res, '/plain-reverse');
  });
});
