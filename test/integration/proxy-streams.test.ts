/**
 * Streams through the interception tunnel: server-sent events flushed as they arrive, a
 * WebSocket upgrade with the credential injected on the upgrade request, an upstream call given
 * up when the client goes away before its answer; and the per-agent tunnel and header-size
 * limits, each with its own code.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Gateway } from '../../src/gateway';
import { localApiKeyVault, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const SECRET = `ws_secret_${randomBytes(8).toString('hex')}`;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** CONNECT through the proxy; resolves with the raw socket, or the refusal. */
function connectTunnel(
  proxy: URL,
  token: string,
  authority: string,
): Promise<{ socket?: Socket; refusal?: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: proxy.hostname,
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      headers: {
        'proxy-authorization': `Basic ${Buffer.from(`${token}:streams`).toString('base64')}`,
      },
    });
    req.on('connect', (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode === 200) resolve({ socket });
      else {
        socket.destroy();
        resolve({ refusal: res });
      }
    });
    req.on('response', (res) => resolve({ refusal: res }));
    req.on('error', reject);
    req.end();
  });
}

function tlsOver(socket: Socket, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername: 'localhost', ca }, () => resolve(tls));
    tls.on('error', reject);
  });
}

describe('streams through the tunnel', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let token: string;
  let ca: string;
  let proxy: URL;
  const secondEventAllowed = deferred();
  const upgradeHeaders = deferred<IncomingMessage['headers']>();
  const hangingArrived = deferred();
  const hangingClosed = deferred();
  const endlessClosed = deferred();

  beforeAll(async () => {
    upstream = await startUpstream([
      (req, res) => {
        if (req.url !== '/events') return false;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: first\n\n');
        void secondEventAllowed.promise.then(() => res.end('data: second\n\n'));
        return true;
      },
      (req, res) => {
        if (req.url !== '/hanging') return false;
        // Never answers (within the test): only the gateway giving up the call ends it.
        res.on('close', () => hangingClosed.resolve());
        hangingArrived.resolve();
        return true;
      },
      (req, res) => {
        if (req.url !== '/endless-events') return false;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        res.on('close', () => endlessClosed.resolve());
        return true;
      },
    ]);
    upstream.onUpgrade((req, socket) => {
      upgradeHeaders.resolve(req.headers);
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      );
      socket.on('data', (chunk: Buffer) =>
        socket.write(Buffer.concat([Buffer.from('echo:'), chunk])),
      );
    });
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__Proxy__MaxTunnelsPerAgent: '2',
      System__Proxy__MaxHeaderBytes: '2048',
    });
    token = await localApiKeyVault(gateway, upstream, 'streams', 'streamer', SECRET);
    ca = await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text();
    proxy = new URL(gateway.urls.proxy);
  });

  /** The vault's audit rows, written out first. */
  async function auditRows() {
    await gateway.audit.flush();
    return gateway.audit.query({ vault: 'streams', limit: 100 });
  }

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('flushes server-sent events as they arrive', async () => {
    const { socket } = await connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`);
    const tls = await tlsOver(socket!, ca);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpsRequest({
        host: 'localhost',
        port: upstream.httpsPort,
        path: '/events',
        createConnection: () => tls,
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.headers['content-type']).toBe('text/event-stream');
    const chunks: string[] = [];
    const first = deferred();
    const done = deferred();
    res.on('data', (c: Buffer) => {
      chunks.push(c.toString());
      if (chunks.join('').includes('first')) first.resolve();
    });
    res.on('end', () => done.resolve());
    // The first event must arrive while the upstream still holds the second one back.
    await first.promise;
    expect(chunks.join('')).not.toContain('second');
    secondEventAllowed.resolve();
    await done.promise;
    expect(chunks.join('')).toBe('data: first\n\ndata: second\n\n');
    tls.destroy();
  });

  it('upgrades to WebSocket inside the tunnel, with the credential injected on the upgrade request', async () => {
    const { socket } = await connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`);
    const tls = await tlsOver(socket!, ca);
    const key = randomBytes(16).toString('base64');
    tls.write(
      `GET /ws HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let received = '';
    const switched = deferred();
    const echoed = deferred();
    tls.on('data', (c: Buffer) => {
      received += c.toString();
      if (received.includes('\r\n\r\n')) switched.resolve();
      if (received.includes('echo:ping')) echoed.resolve();
    });
    await switched.promise;
    expect(received).toMatch(/^HTTP\/1\.1 101/);
    tls.write('ping');
    await echoed.promise;
    const headers = await upgradeHeaders.promise;
    expect(headers['x-api-key']).toBe(SECRET);
    expect(headers['proxy-authorization']).toBeUndefined();
    expect(received).not.toContain(SECRET);
    tls.destroy();
  });

  it('gives up the upstream call when the client goes away before the answer', async () => {
    const { socket } = await connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`);
    const tls = await tlsOver(socket!, ca);
    tls.write(`GET /hanging HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\n\r\n`);
    tls.on('error', () => undefined);
    await hangingArrived.promise;
    tls.destroy();
    // Without the cancellation the call would run to System.Proxy.UpstreamTimeoutSeconds (60 s).
    await hangingClosed.promise;
    const row = (await auditRows()).find((r) => r.path === '/hanging');
    expect(row).toMatchObject({ decision: 'error', errorCode: 'VEC_CLIENT_CLOSED' });
    expect(row?.status ?? undefined).toBeUndefined();
  });

  it('ends the upstream stream when the client goes away in the middle of it', async () => {
    const { socket } = await connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`);
    const tls = await tlsOver(socket!, ca);
    tls.on('error', () => undefined);
    const firstEvent = deferred();
    let received = '';
    tls.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('data: first')) firstEvent.resolve();
    });
    tls.write(`GET /endless-events HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\n\r\n`);
    await firstEvent.promise;
    tls.destroy();
    await endlessClosed.promise;
    const row = (await auditRows()).find((r) => r.path === '/endless-events');
    expect(row).toMatchObject({ decision: 'allow', status: 200, errorCode: 'VEC_CLIENT_CLOSED' });
  });

  it('leaves requests answered in full alone, one after another on a keep-alive tunnel', async () => {
    const { socket } = await connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`);
    const tls = await tlsOver(socket!, ca);
    // One request at a time on the same connection, each read to the end of its body.
    let buffered = '';
    let onData = () => undefined as void;
    tls.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      onData();
    });
    const get = (path: string) =>
      new Promise<number>((resolve) => {
        onData = () => {
          const head = buffered.indexOf('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(buffered.slice(0, head));
          if (head < 0 || !length || buffered.length < head + 4 + Number(length[1])) return;
          const status = Number(buffered.slice(9, 12));
          buffered = buffered.slice(head + 4 + Number(length[1]));
          resolve(status);
        };
        tls.write(`GET ${path} HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\n\r\n`);
      });
    expect(await get('/answered-1')).toBe(200);
    expect(await get('/answered-2')).toBe(200);
    tls.destroy();
    const rows = (await auditRows()).filter((r) => r.path.startsWith('/answered-'));
    expect(rows.map((r) => [r.path, r.status, r.errorCode]).sort()).toEqual([
      ['/answered-1', 200, null],
      ['/answered-2', 200, null],
    ]);
  });

  it('limits open tunnels per agent', async () => {
    // A fresh agent: tunnels of the tests above may still be closing.
    const token = (await gateway.identity.createAgent({ name: 'tunneler', vaults: ['streams'] }))
      .token;
    const open = await Promise.all([
      connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`),
      connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`),
    ]);
    expect(open.every((t) => t.socket)).toBe(true);
    const third = await connectTunnel(proxy, token, `localhost:${upstream.httpsPort}`);
    expect(third.refusal?.statusCode).toBe(429);
    expect(third.refusal?.headers['x-vectra-error']).toBe('VEC_TUNNEL_LIMIT');
    for (const t of open) t.socket!.destroy();
  });

  it('refuses oversized request headers with VEC_HEADERS_TOO_LARGE', async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({
        host: proxy.hostname,
        port: proxy.port,
        path: `${upstream.httpUrl}/x`,
        headers: { 'x-padding': 'p'.repeat(4096), 'proxy-authorization': `Bearer ${token}` },
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(431);
    expect(res.headers['x-vectra-error']).toBe('VEC_HEADERS_TOO_LARGE');
    res.resume();
  });
});
