/**
 * Streaming through the upstream client, in lockstep with real local servers so nothing depends
 * on timing: a body can only complete if bytes flow while it is produced (no whole-body
 * buffering), server-sent events arrive one by one, and upgrades hand over the socket.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import type { ProxyConfig } from '../../src/config/schema';
import type { ProxyRequest, UpstreamResponse, UpstreamUpgrade } from '../../src/http/types';
import { createUpstreamClient } from '../../src/proxy/upstream';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { loopbackRequest } from '../helpers/context';
import { testConfig } from '../helpers/gateway';

const PROXY: ProxyConfig = { ...testConfig().System.Proxy, NetworkAllowlist: '127.0.0.0/8' };
const TOTAL = 5 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** Bytes allowed in flight (sent but not yet seen by the other end): a fifth of the body. */
const WINDOW = 1024 * 1024;

let server: Server;
let port: number;
let upstream: UpstreamClient;
const sockets = new Set<Socket>();

beforeEach(async () => {
  server = createServer();
  server.on('connection', (socket) => sockets.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  upstream = createUpstreamClient(PROXY);
});

afterEach(async () => {
  await upstream.close();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  server.close();
});

const request = (extra: Partial<ProxyRequest>): ProxyRequest => loopbackRequest(port, extra);

/** Rejects with `what` unless `promise` settles within `ms` (a bound for failures, not a sleep). */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Keeps everything a stream emits; `until` waits (bounded) for the text to satisfy a check. */
function collect(stream: Readable | Duplex): {
  text(): string;
  until(check: (text: string) => boolean, what: string): Promise<void>;
} {
  let text = '';
  let waiter: (() => void) | undefined;
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    waiter?.();
  });
  return {
    text: () => text,
    until(check, what) {
      if (check(text)) return Promise.resolve();
      return within(
        new Promise<void>((resolve) => {
          waiter = () => {
            if (!check(text)) return;
            waiter = undefined;
            resolve();
          };
        }),
        what,
      );
    },
  };
}

function handle(handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('request', handler);
}

describe('upstream client: streaming', () => {
  it('streams a 5 MB body both ways with at most a window of it in flight', async () => {
    // The server echoes as it reads. The client produces the next chunk only when the echo of
    // all but WINDOW bytes has come back, so the exchange can only finish if the client streams
    // the request and the response as they go; a client that buffered either whole would stall.
    const block = randomBytes(CHUNK);
    const sent = createHash('sha256');
    const echoed = createHash('sha256');
    let produced = 0;
    let returned = 0;
    let waiting = false;
    const produce = () => {
      waiting = false;
      if (produced >= TOTAL) return void body.push(null);
      const chunk = Buffer.from(block);
      chunk.writeUInt32BE(produced, 0);
      produced += chunk.length;
      sent.update(chunk);
      body.push(chunk);
    };
    const body: Readable = new Readable({
      read() {
        if (produced - returned <= WINDOW) produce();
        else waiting = true;
      },
    });
    handle((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      req.pipe(res);
    });

    const response = await within(upstream.send(request({ method: 'POST', body })), 'the head');
    expect(response.status).toBe(200);
    let maxInFlight = 0;
    response.body.on('data', (chunk: Buffer) => {
      returned += chunk.length;
      echoed.update(chunk);
      maxInFlight = Math.max(maxInFlight, produced - returned);
      if (waiting && produced - returned <= WINDOW) produce();
    });
    await within(once(response.body, 'end'), 'the whole echo');
    expect(returned).toBe(TOTAL);
    expect(echoed.digest('hex')).toBe(sent.digest('hex'));
    expect(maxInFlight).toBeLessThanOrEqual(WINDOW + CHUNK);
  });

  it('flushes server-sent events one by one, each before the next is sent', async () => {
    let upstreamResponse: ServerResponse | undefined;
    const opened = new Promise<void>((resolve) =>
      handle((req, res) => {
        expect(req.headers['accept-encoding']).toBeUndefined();
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        upstreamResponse = res;
        resolve();
      }),
    );
    const response = await within(
      upstream.send(request({ path: '/events', headers: { accept: 'text/event-stream' } })),
      'the event stream head',
    );
    await opened;
    expect(response.headers['content-type']).toBe('text/event-stream');
    const received = collect(response.body);
    const ended = once(response.body, 'end');
    for (let i = 1; i <= 3; i++) {
      const event = `id: ${i}\ndata: {"n":${i}}\n\n`;
      upstreamResponse!.write(event);
      // Event i must arrive on its own: event i+1 is only written after this.
      await received.until((text) => text.endsWith(event), `event ${i}`);
    }
    upstreamResponse!.end();
    await within(ended, 'the end of the stream');
    expect(received.text().split('\n\n').filter(Boolean)).toHaveLength(3);
  });
});

describe('upstream client: upgrades', () => {
  const upgradeRequest = (path = '/ws'): ProxyRequest =>
    request({
      path,
      upgrade: true,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        authorization: 'Bearer injected-credential',
        'proxy-authorization': 'Basic must-not-travel',
      },
    });

  it('hands over the upgraded socket, which carries bytes both ways', async () => {
    let seen: IncomingMessage | undefined;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      seen = req;
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Vectra-Error: forged\r\n\r\n',
      );
      socket.pipe(socket);
    });
    const result = (await within(
      upstream.upgrade(upgradeRequest()),
      'the upgrade',
    )) as UpstreamUpgrade;
    expect(result.status).toBe(101);
    expect(result.headers).toMatchObject({
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    });
    expect(result.headers['x-vectra-error']).toBeUndefined();
    expect(seen?.headers).toMatchObject({
      upgrade: 'websocket',
      connection: 'Upgrade',
      authorization: 'Bearer injected-credential',
      host: `127.0.0.1:${port}`,
    });
    expect(seen?.headers['proxy-authorization']).toBeUndefined();

    const echoed = collect(result.socket);
    result.socket.write('ping');
    await echoed.until((text) => (result.head.toString() + text).includes('ping'), 'the echo');
    expect(result.head.toString() + echoed.text()).toBe('ping');
    result.socket.destroy();
  });

  it('returns a plain response when the upstream does not upgrade', async () => {
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\nConnection: close\r\n\r\nrefused');
    });
    const result = (await within(
      upstream.upgrade(upgradeRequest('/no')),
      'the refusal',
    )) as UpstreamResponse;
    expect(result.status).toBe(403);
    expect(result.headers.connection).toBeUndefined();
    let body = '';
    for await (const chunk of result.body) body += chunk;
    expect(body).toBe('refused');
  });

  it('applies the SSRF guard to upgrades too', async () => {
    const guarded = createUpstreamClient({ ...PROXY, NetworkAllowlist: '' });
    await expect(guarded.upgrade(upgradeRequest())).rejects.toMatchObject({
      code: 'VEC_UPSTREAM_BLOCKED',
    });
    await guarded.close();
  });
});
