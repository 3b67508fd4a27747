/**
 * The upstream client against real local servers (http and https on 127.0.0.1, port 0):
 * requests, keep-alive pooling, redirects, TLS verification, limits, timeouts and failures.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ProxyConfig } from '../../src/config/schema';
import { ConfigError, GatewayError } from '../../src/errors';
import type { UpstreamResponse } from '../../src/http/types';
import { createUpstreamClient, type UpstreamClientDeps } from '../../src/proxy/upstream';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { selfSignedCertificate, type TestCertificate } from '../helpers/certificates';
import { loopbackRequest as get } from '../helpers/context';
import { testConfig } from '../helpers/gateway';
import { tempDir } from '../helpers/temp-dir';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const BASE: ProxyConfig = { ...testConfig().System.Proxy, NetworkAllowlist: '127.0.0.0/8' };
const localhostOnly: UpstreamClientDeps['lookup'] = async () => [
  { address: '127.0.0.1', family: 4 },
];

let trusted: TestCertificate;
let untrusted: TestCertificate;
let caFile: string;
const servers: Server[] = [];
const clients: UpstreamClient[] = [];
const rawServers: Array<{ server: NetServer; sockets: Socket[] }> = [];

beforeAll(() => {
  trusted = selfSignedCertificate('localhost');
  untrusted = selfSignedCertificate('localhost');
  caFile = join(tempDir('vectra-upstream-'), 'upstream-ca.pem');
  writeFileSync(caFile, trusted.certPem);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
  for (const { server, sockets } of rawServers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
});

async function serve(
  handler: Handler,
  tls?: TestCertificate,
): Promise<{ port: number; connections: () => number; server: Server }> {
  const server = tls
    ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler)
    : createServer(handler);
  let count = 0;
  server.on('connection', () => count++);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, connections: () => count, server };
}

function client(overrides: Partial<ProxyConfig> = {}, deps: UpstreamClientDeps = {}) {
  const created = createUpstreamClient({ ...BASE, UpstreamCaFile: caFile, ...overrides }, deps);
  clients.push(created);
  return created;
}

async function text(response: UpstreamResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof GatewayError))
    throw new Error(`expected a GatewayError, got ${String(error)}`);
  return error;
}

const hello: Handler = (req, res) => res.end(`hello ${req.method} ${req.url}`);

describe('upstream client: plain requests', () => {
  it('GETs over http and returns status, headers and a streamed body', async () => {
    const { port } = await serve((req, res) => {
      res.setHeader('x-upstream', 'yes');
      hello(req, res);
    });
    const response = await client().send(get(port, { path: '/a?b=1' }));
    expect(response.status).toBe(200);
    expect(response.headers['x-upstream']).toBe('yes');
    expect(await text(response)).toBe('hello GET /a?b=1');
  });

  it('POSTs a streamed body of unknown length (chunked)', async () => {
    const { port } = await serve(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      res.end(`${req.headers['transfer-encoding']}:${body}`);
    });
    const body = Readable.from([Buffer.from('one,'), Buffer.from('two')]);
    const response = await client().send(get(port, { method: 'POST', body }));
    expect(await text(response)).toBe('chunked:one,two');
  });

  it('sends a declared Content-Length as is', async () => {
    const { port } = await serve((req, res) => res.end(String(req.headers['content-length'])));
    const body = Readable.from([Buffer.from('12345')]);
    const response = await client().send(get(port, { method: 'PUT', body, contentLength: 5 }));
    expect(await text(response)).toBe('5');
  });

  it('passes redirects back instead of following them', async () => {
    const { port, server } = await serve((req, res) => {
      if (req.url === '/old') res.writeHead(302, { location: '/new' }).end('moved');
      else res.end('followed!');
    });
    let requests = 0;
    server.on('request', () => requests++);
    const response = await client().send(get(port, { path: '/old' }));
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/new');
    expect(await text(response)).toBe('moved');
    expect(requests).toBe(1);
  });

  it('reuses one pooled connection for sequential requests to the same origin', async () => {
    const { port, connections } = await serve(hello);
    const upstream = client();
    for (let i = 0; i < 5; i++) expect(await text(await upstream.send(get(port)))).toContain('GET');
    expect(connections()).toBe(1);
  });

  it('does not share a pooled socket across different checked address sets', async () => {
    const { port, connections } = await serve(hello);
    let answer = ['127.0.0.1'];
    const upstream = client(
      { NetworkAllowlist: '127.0.0.0/8,::1/128' },
      {
        lookup: async () =>
          answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      },
    );
    const request = get(port, { host: 'pool.test' });
    await text(await upstream.send(request));
    await text(await upstream.send(request));
    expect(connections()).toBe(1);
    answer = ['127.0.0.1', '::1'];
    await text(await upstream.send(request));
    expect(connections()).toBe(2);
  });
});

describe('upstream client: TLS', () => {
  it('verifies the upstream against UpstreamCaFile, with the host as SNI and name', async () => {
    const { port, server } = await serve(hello, trusted);
    let sni: string | undefined;
    server.on('secureConnection', (socket: TLSSocket) => (sni = socket.servername || undefined));
    const upstream = client({}, { lookup: localhostOnly });
    const response = await upstream.send(get(port, { scheme: 'https', host: 'localhost' }));
    expect(await text(response)).toBe('hello GET /');
    expect(sni).toBe('localhost');
  });

  it('verifies an IP literal against the certificate IP addresses', async () => {
    const { port } = await serve(hello, trusted);
    const response = await client().send(get(port, { scheme: 'https' }));
    expect(response.status).toBe(200);
    await text(response);
  });

  it('reuses one TLS connection for sequential requests', async () => {
    const { port, connections } = await serve(hello, trusted);
    const upstream = client({}, { lookup: localhostOnly });
    for (let i = 0; i < 4; i++)
      await text(await upstream.send(get(port, { scheme: 'https', host: 'localhost' })));
    expect(connections()).toBe(1);
  });

  it('refuses an untrusted certificate with VEC_UPSTREAM_TLS_INVALID (verification is never off)', async () => {
    const { port } = await serve(hello, untrusted);
    const error = await refusal(
      client({}, { lookup: localhostOnly }).send(get(port, { scheme: 'https', host: 'localhost' })),
    );
    expect(error.code).toBe('VEC_UPSTREAM_TLS_INVALID');
    expect(error.statusCode).toBe(502);
    expect(error.message).toContain('System.Proxy.UpstreamCaFile');
  });

  it('refuses a certificate outside the system roots when no extra CA is configured', async () => {
    const { port } = await serve(hello, trusted);
    const error = await refusal(
      client({ UpstreamCaFile: '' }).send(get(port, { scheme: 'https' })),
    );
    expect(error.code).toBe('VEC_UPSTREAM_TLS_INVALID');
  });

  it('refuses a trusted certificate issued for another name', async () => {
    const { port } = await serve(hello, trusted);
    const upstream = client({}, { lookup: localhostOnly });
    const error = await refusal(upstream.send(get(port, { scheme: 'https', host: 'other.test' })));
    expect(error.code).toBe('VEC_UPSTREAM_TLS_INVALID');
    expect(error.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it.each([
    ['a missing file', () => join(tmpdir(), 'vectra-no-such-ca.pem'), 'cannot be read (ENOENT)'],
    [
      'a file without certificates',
      () => writeTemp('not a certificate'),
      'holds no PEM certificate',
    ],
    [
      'a damaged certificate',
      () => writeTemp('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      'does not parse',
    ],
  ])('stops at construction on %s, naming System.Proxy.UpstreamCaFile', (_what, path, message) => {
    let error: unknown;
    try {
      createUpstreamClient({ ...BASE, UpstreamCaFile: path() });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toMatchObject({
      key: 'System.Proxy.UpstreamCaFile',
    });
    expect((error as ConfigError).message).toContain(message);
  });
});

function writeTemp(content: string): string {
  const path = join(tempDir('vectra-upstream-'), 'ca.pem');
  writeFileSync(path, content);
  return path;
}

describe('upstream client: limits, timeouts and failures', () => {
  it('refuses a declared Content-Length over MaxRequestBodyBytes before connecting', async () => {
    const { port, connections } = await serve(hello);
    const body = Readable.from([Buffer.alloc(10)]);
    const upstream = client({ MaxRequestBodyBytes: 1000 });
    const error = await refusal(
      upstream.send(get(port, { method: 'POST', body, contentLength: 1001 })),
    );
    expect(error.code).toBe('VEC_REQUEST_TOO_LARGE');
    expect(error.statusCode).toBe(413);
    expect(connections()).toBe(0);
  });

  it('stops a streamed body once it passes MaxRequestBodyBytes, leaving the caller its stream', async () => {
    const { port, server } = await serve(() => undefined);
    const arrived = once(server, 'request');
    const body = new Readable({ read: () => undefined });
    const sending = client({ MaxRequestBodyBytes: 1000 }).send(get(port, { method: 'POST', body }));
    body.push(Buffer.alloc(600));
    await arrived;
    body.push(Buffer.alloc(600));
    const error = await refusal(sending);
    expect(error.code).toBe('VEC_REQUEST_TOO_LARGE');
    expect(body.destroyed).toBe(false);
  });

  it('refuses a declared response Content-Length over MaxResponseBodyBytes', async () => {
    const { port } = await serve((_req, res) => res.end(Buffer.alloc(2000)));
    const error = await refusal(client({ MaxResponseBodyBytes: 1000 }).send(get(port)));
    expect(error.code).toBe('VEC_RESPONSE_TOO_LARGE');
    expect(error.statusCode).toBe(502);
  });

  it('errors the body stream once a chunked response passes MaxResponseBodyBytes', async () => {
    const { port, connections } = await serve((req, res) => {
      if (req.url === '/small') return void res.end('ok');
      // Never ends: the client gives up mid-message.
      res.write(Buffer.alloc(800));
      res.write(Buffer.alloc(800));
    });
    const upstream = client({ MaxResponseBodyBytes: 1000 });
    const response = await upstream.send(get(port, { path: '/big' }));
    expect(response.status).toBe(200);
    const error = await refusal(text(response));
    expect(error.code).toBe('VEC_RESPONSE_TOO_LARGE');
    expect(response.body.destroyed).toBe(true);
    // The connection was cut mid-message, so it is not pooled.
    expect(await text(await upstream.send(get(port, { path: '/small' })))).toBe('ok');
    expect(connections()).toBe(2);
  });

  it('times out with VEC_UPSTREAM_TIMEOUT when the response head does not come', async () => {
    const { port, server } = await serve(() => undefined);
    const timers: Array<{ fire: () => void; ms: number; cancelled: boolean }> = [];
    const upstream = client(
      { UpstreamTimeoutSeconds: 7 },
      {
        setTimer: (fire, ms) => {
          const timer = { fire, ms, cancelled: false };
          timers.push(timer);
          return () => (timer.cancelled = true);
        },
      },
    );
    const arrived = once(server, 'request');
    const sending = upstream.send(get(port));
    const [req] = (await arrived) as [IncomingMessage];
    expect(timers).toHaveLength(1);
    expect(timers[0].ms).toBe(7000);
    const closed = once(req.socket, 'close');
    timers[0].fire();
    const error = await refusal(sending);
    expect(error.code).toBe('VEC_UPSTREAM_TIMEOUT');
    expect(error.statusCode).toBe(504);
    await closed;
  });

  it('cancels the timeout once the head arrived', async () => {
    const { port } = await serve(hello);
    const cancelled: boolean[] = [];
    const upstream = client(
      {},
      {
        setTimer: () => {
          const index = cancelled.push(false) - 1;
          return () => (cancelled[index] = true);
        },
      },
    );
    await text(await upstream.send(get(port)));
    expect(cancelled).toEqual([true]);
  });

  it('aborts on the caller signal', async () => {
    const { port, server } = await serve(() => undefined);
    const arrived = once(server, 'request');
    const controller = new AbortController();
    const sending = client().send(get(port), { signal: controller.signal });
    await arrived;
    controller.abort(new Error('client went away'));
    await expect(sending).rejects.toThrow('client went away');
  });

  it('reports a refused connection as VEC_UPSTREAM_UNREACHABLE', async () => {
    const { port, server } = await serve(hello);
    server.close();
    await once(server, 'close');
    const error = await refusal(client().send(get(port)));
    expect(error.code).toBe('VEC_UPSTREAM_UNREACHABLE');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('reports a connection reset before the answer as VEC_UPSTREAM_UNREACHABLE', async () => {
    const { port } = await serve((req) => req.socket.destroy());
    const error = await refusal(client().send(get(port)));
    expect(error.code).toBe('VEC_UPSTREAM_UNREACHABLE');
  });

  it('retries once on a fresh connection when the server dropped the pooled one (no body)', async () => {
    let served = 0;
    const { port, connections } = await serve((req, res) => {
      served++;
      if (served === 2) return void req.socket.destroy();
      res.end(`answer ${served}`);
    });
    const upstream = client();
    expect(await text(await upstream.send(get(port)))).toBe('answer 1');
    expect(await text(await upstream.send(get(port)))).toBe('answer 3');
    expect(connections()).toBe(2);
  });

  it('does not retry a request whose body was already sent', async () => {
    let served = 0;
    const { port } = await serve((req, res) => {
      served++;
      if (served === 2) return void req.socket.destroy();
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const upstream = client();
    await text(await upstream.send(get(port, { method: 'POST' })));
    const body = Readable.from([Buffer.from('once')]);
    const error = await refusal(upstream.send(get(port, { method: 'POST', body })));
    expect(error.code).toBe('VEC_UPSTREAM_UNREACHABLE');
    expect(served).toBe(2);
  });

  it('reports a body the client aborted as its own fault, not an unreachable upstream', async () => {
    const { port, server } = await serve(() => undefined);
    const arrived = once(server, 'request');
    const body = new Readable({ read: () => undefined });
    const sending = client().send(get(port, { method: 'POST', body }));
    body.push('partial');
    await arrived;
    body.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    const error = await refusal(sending);
    expect(error.code).toBe('VEC_REQUEST_MALFORMED');
  });

  it('blocks 127.0.0.1 when the allow-list does not name it, without connecting', async () => {
    const { port, connections } = await serve(hello);
    const error = await refusal(client({ NetworkAllowlist: '' }).send(get(port)));
    expect(error.code).toBe('VEC_UPSTREAM_BLOCKED');
    expect(error.message).toContain('loopback');
    expect(connections()).toBe(0);
  });

  it('refuses requests after close()', async () => {
    const upstream = client();
    await upstream.close();
    expect((await refusal(upstream.send(get(1)))).code).toBe('VEC_UPSTREAM_UNREACHABLE');
  });
});

/** A raw TCP upstream: writes exactly what the test says, for heads and bodies Node would fix. */
async function serveRaw(
  onRequest: (socket: Socket, head: string) => void,
): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      onRequest(socket, head);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  rawServers.push({ server, sockets });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, sockets };
}

/** Hand-fired timers (the client's only clock for its upstream timeout). */
function manualTimers(): {
  setTimer: NonNullable<UpstreamClientDeps['setTimer']>;
  timers: Array<{ fire: () => void; ms: number; cancelled: boolean }>;
} {
  const timers: Array<{ fire: () => void; ms: number; cancelled: boolean }> = [];
  return {
    timers,
    setTimer: (fire, ms) => {
      const timer = { fire, ms, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
  };
}

/** Resolves `true` once `promise` settles, or `false` when it is still pending after `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

async function raw(response: UpstreamResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('upstream client: bufferUpTo (bodies read whole before resolving)', () => {
  const twoKiB = Buffer.from(
    Array.from({ length: 2048 }, (_, i) => String.fromCharCode(33 + (i % 90))).join(''),
  );

  it('reads a body with a Content-Length within the limit whole: bytes, the same bytes on body, headers intact', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(200, 'Fine', {
        'content-type': 'application/json',
        'content-length': twoKiB.length,
        'x-upstream': 'yes',
        'set-cookie': ['a=1', 'b=2'],
      });
      // Two writes: the client must gather every chunk, not just the first.
      res.write(twoKiB.subarray(0, 1000));
      setTimeout(() => res.end(twoKiB.subarray(1000)), 20);
    });
    const response = await client().send(get(port), { bufferUpTo: 4096 });
    expect(response.status).toBe(200);
    expect(response.statusMessage).toBe('Fine');
    expect(response.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(twoKiB.length),
      'x-upstream': 'yes',
      'set-cookie': ['a=1', 'b=2'],
    });
    expect(Buffer.isBuffer(response.bytes)).toBe(true);
    expect(response.bytes!.equals(twoKiB)).toBe(true);
    expect(response.body.readableObjectMode).toBe(false);
    expect((await raw(response)).equals(twoKiB)).toBe(true);
  });

  it('reads a body exactly at the limit, and an empty one, whole', async () => {
    const { port } = await serve((req, res) => {
      const body = req.url === '/empty' ? Buffer.alloc(0) : twoKiB;
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    const upstream = client();
    const exact = await upstream.send(get(port), { bufferUpTo: twoKiB.length });
    expect(exact.bytes?.equals(twoKiB)).toBe(true);
    expect((await raw(exact)).equals(twoKiB)).toBe(true);
    const empty = await upstream.send(get(port, { path: '/empty' }), { bufferUpTo: 4096 });
    expect(empty.bytes).toEqual(Buffer.alloc(0));
    expect((await raw(empty)).length).toBe(0);
  });

  it('cancels the timeout only once the whole body was read, and keeps the connection pooled', async () => {
    const { port, connections } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': twoKiB.length }).end(twoKiB);
    });
    const { setTimer, timers } = manualTimers();
    const upstream = client({}, { setTimer });
    for (let i = 0; i < 3; i++) {
      const response = await upstream.send(get(port), { bufferUpTo: 4096 });
      expect(response.bytes?.equals(twoKiB)).toBe(true);
    }
    expect(timers.map((timer) => timer.cancelled)).toEqual([true, true, true]);
    expect(connections()).toBe(1);
  });

  it('streams a body whose Content-Length is above the limit (no bytes), completely', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': twoKiB.length }).end(twoKiB);
    });
    const response = await client().send(get(port), { bufferUpTo: twoKiB.length - 1 });
    expect(response.bytes).toBeUndefined();
    expect(response.headers['content-length']).toBe(String(twoKiB.length));
    expect((await raw(response)).equals(twoKiB)).toBe(true);
  });

  it('streams without bufferUpTo (no bytes)', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': twoKiB.length }).end(twoKiB);
    });
    const response = await client().send(get(port));
    expect(response.bytes).toBeUndefined();
    expect((await raw(response)).equals(twoKiB)).toBe(true);
  });

  it('streams a chunked body (no Content-Length): no bytes, resolved before the body ends', async () => {
    let finish: () => void = () => undefined;
    const { port } = await serve((_req, res) => {
      res.write('first,');
      finish = () => res.end('last');
    });
    const response = await client().send(get(port), { bufferUpTo: 4096 });
    expect(response.headers['content-length']).toBeUndefined();
    expect(response.bytes).toBeUndefined();
    finish();
    expect(await text(response)).toBe('first,last');
  });

  it('streams server-sent events even when they declare a Content-Length (no bytes)', async () => {
    const events = Buffer.from('data: one\n\ndata: two\n\n');
    const { port } = await serve((_req, res) => {
      res.writeHead(200, {
        'content-type': 'Text/Event-Stream; charset=utf-8',
        'content-length': events.length,
      });
      res.end(events);
    });
    const response = await client().send(get(port), { bufferUpTo: 4096 });
    expect(response.bytes).toBeUndefined();
    expect((await raw(response)).equals(events)).toBe(true);
  });

  it('gives a HEAD answer no bytes, whatever length it declares', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 100 }).end();
    });
    const response = await client().send(get(port, { method: 'HEAD' }), { bufferUpTo: 4096 });
    expect(response.status).toBe(200);
    expect(response.headers['content-length']).toBe('100');
    expect(response.bytes).toBeUndefined();
    expect((await raw(response)).length).toBe(0);
  });

  it.each([204, 304])('gives a %i answer no bytes, even with a Content-Length', async (status) => {
    const { port } = await serveRaw((socket) => {
      socket.write(`HTTP/1.1 ${status} Nothing\r\nContent-Length: 0\r\nX-Upstream: yes\r\n\r\n`);
    });
    const response = await client().send(get(port), { bufferUpTo: 4096 });
    expect(response.status).toBe(status);
    expect(response.headers['x-upstream']).toBe('yes');
    expect(response.bytes).toBeUndefined();
    expect((await raw(response)).length).toBe(0);
  });

  it('without bufferUpTo, a body cut short resolves the head and then errors the stream (control)', async () => {
    const { port, sockets } = await serveRaw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
    const response = await client().send(get(port));
    expect(response.status).toBe(200);
    sockets[0].destroy();
    const error = await refusal(raw(response));
    expect(error.code).toBe('VEC_UPSTREAM_UNREACHABLE');
  });

  it('rejects a body cut short (Content-Length 1000, 10 bytes, socket destroyed) and never resolves it truncated', async () => {
    const { port, sockets } = await serveRaw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
    const sending = client().send(get(port), { bufferUpTo: 4096 });
    // The head and the 10 bytes are in (the control above resolves on them at once): still
    // pending, waiting for the other 990.
    expect(await settlesWithin(sending, 200)).toBe(false);
    sockets[0].destroy();
    const error = await refusal(sending);
    expect(error.code).toBe('VEC_UPSTREAM_UNREACHABLE');
    expect(error.statusCode).toBe(502);
  });

  it('rejects when the upstream closes cleanly (FIN) before the declared length', async () => {
    const { port } = await serveRaw((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
    const error = await refusal(client().send(get(port), { bufferUpTo: 4096 }));
    expect(error.code).toBe('VEC_UPSTREAM_UNREACHABLE');
  });

  it('times out with VEC_UPSTREAM_TIMEOUT when the body stalls after the head, closing the connection', async () => {
    const { port, sockets } = await serveRaw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
    const { setTimer, timers } = manualTimers();
    const upstream = client({ UpstreamTimeoutSeconds: 7 }, { setTimer });
    const sending = upstream.send(get(port), { bufferUpTo: 4096 });
    expect(await settlesWithin(sending, 200)).toBe(false);
    // One timer, for head and body, still armed while the body is read.
    expect(timers).toHaveLength(1);
    expect(timers[0]).toMatchObject({ ms: 7000, cancelled: false });
    const closed = once(sockets[0], 'close');
    timers[0].fire();
    const error = await refusal(sending);
    expect(error.code).toBe('VEC_UPSTREAM_TIMEOUT');
    expect(error.statusCode).toBe(504);
    expect(timers[0].cancelled).toBe(true);
    await closed;
  });

  it('rejects with the caller signal reason when aborted while the body is read', async () => {
    const { port, sockets } = await serveRaw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
    const controller = new AbortController();
    const sending = client().send(get(port), { bufferUpTo: 4096, signal: controller.signal });
    expect(await settlesWithin(sending, 200)).toBe(false);
    const closed = once(sockets[0], 'close');
    controller.abort(new Error('client went away'));
    await expect(sending).rejects.toThrow('client went away');
    await closed;
  });

  it('still refuses a declared length over MaxResponseBodyBytes before reading it', async () => {
    const { port } = await serve((_req, res) => res.end(Buffer.alloc(2000)));
    const error = await refusal(
      client({ MaxResponseBodyBytes: 1000 }).send(get(port), { bufferUpTo: 4096 }),
    );
    expect(error.code).toBe('VEC_RESPONSE_TOO_LARGE');
  });
});
