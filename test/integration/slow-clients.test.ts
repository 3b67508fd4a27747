/**
 * Slow clients (slowloris) against the real gateway, with raw sockets on loopback: a client that
 * drips its request head one byte at a time, or opens a CONNECT tunnel and sends nothing, is
 * answered 408 or disconnected once the configured timeout passed — on the proxy port, inside a
 * tunnel (plain and TLS) and on the API port — and the gateway keeps answering afterwards.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Gateway } from '../../src/gateway';
import { localBearerVault, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const TIMEOUT_MS = 200;
/** Far below the time the drip would need to finish, far above the timeout. */
const DRIP_EVERY_MS = 50;

interface Outcome {
  /** What the gateway wrote before it closed (a 408 head, or nothing). */
  answer: string;
  /** Bytes of the drip that went out before the connection closed. */
  sent: number;
  elapsedMs: number;
}

function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  return once(socket, 'connect').then(() => socket);
}

/** Sends `text` one byte every DRIP_EVERY_MS until the gateway closes the connection. */
async function drip(socket: Socket, text: string, after = ''): Promise<Outcome> {
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  const started = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable || sent >= text.length) return;
    socket.write(text[sent++]);
  }, DRIP_EVERY_MS);
  // A cut-off may come as a reset (the gateway closes while bytes are still arriving): the
  // socket's 'error' is part of the close, not a failure of the test.
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(timer);
  return { answer: answer.slice(after.length), sent, elapsedMs: Date.now() - started };
}

/** Opens a tunnel to `authority` as `token` and reads the 200 (the head only). */
async function tunnel(gateway: Gateway, token: string, authority: string): Promise<Socket> {
  const socket = await open(Number(new URL(gateway.urls.proxy).port));
  const auth = Buffer.from(`${token}:slow`).toString('base64');
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`,
  );
  const [head] = (await once(socket, 'data')) as [Buffer];
  expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
  return socket;
}

/**
 * Refused in time, before the drip finished: with Vectra's 408 and its code (on both ports), or
 * a bare close when nothing can be answered (a TLS handshake never finished).
 */
function expectCutOff(
  outcome: Outcome,
  length: number,
  how: 'VEC_REQUEST_TIMEOUT' | 'closed',
): void {
  if (how === 'closed') expect(outcome.answer).toBe('');
  else expect(outcome.answer).toMatch(/^HTTP\/1\.1 408 /);
  if (how === 'VEC_REQUEST_TIMEOUT')
    expect(outcome.answer).toMatch(/\r\nx-vectra-error: VEC_REQUEST_TIMEOUT\r\n/i);
  expect(outcome.sent).toBeLessThan(length);
  expect(outcome.elapsedMs).toBeLessThan(10 * TIMEOUT_MS + 1000);
}

describe('slow clients are cut off', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let token: string;
  let upstreamAuthority: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    upstreamAuthority = new URL(upstream.httpUrl).host;
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__HeadersTimeoutMilliseconds: String(TIMEOUT_MS),
      System__Proxy__RequestTimeoutMilliseconds: String(5 * TIMEOUT_MS),
      System__Proxy__TunnelIdleTimeoutMilliseconds: String(TIMEOUT_MS),
      System__Server__HeadersTimeoutMilliseconds: String(TIMEOUT_MS),
      System__Server__RequestTimeoutMilliseconds: String(5 * TIMEOUT_MS),
    });
    token = await localBearerVault(gateway, upstream, 'slow', 'slow-bot', 'slow-secret');
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });
  afterEach(async () => {
    // Still healthy: a normal request through the proxy and one on the API port succeed.
    const health = await fetch(`${gateway.urls.http}/health`);
    expect(health.status).toBe(200);
    const socket = await open(Number(new URL(gateway.urls.proxy).port));
    const auth = Buffer.from(`${token}:slow`).toString('base64');
    socket.write(
      `GET ${upstream.httpUrl}/after HTTP/1.1\r\nHost: ${upstreamAuthority}\r\n` +
        `Proxy-Authorization: Basic ${auth}\r\nConnection: close\r\n\r\n`,
    );
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('on the proxy port: a request head sent one byte at a time', async () => {
    const head = `GET ${upstream.httpUrl}/slow HTTP/1.1\r\nHost: ${upstreamAuthority}\r\nX-Pad: ${'a'.repeat(60)}\r\n\r\n`;
    const socket = await open(Number(new URL(gateway.urls.proxy).port));
    expectCutOff(await drip(socket, head), head.length, 'VEC_REQUEST_TIMEOUT');
  });

  it('inside a CONNECT tunnel: a plain request head sent one byte at a time', async () => {
    const socket = await tunnel(gateway, token, upstreamAuthority);
    const head = `GET /slow HTTP/1.1\r\nHost: ${upstreamAuthority}\r\nX-Pad: ${'a'.repeat(60)}\r\n\r\n`;
    expectCutOff(await drip(socket, head), head.length, 'VEC_REQUEST_TIMEOUT');
  });

  it('inside a CONNECT tunnel: a TLS ClientHello that stops after its first byte', async () => {
    const socket = await tunnel(gateway, token, `localhost:${upstream.httpsPort}`);
    // 0x16: a TLS handshake record starts; the rest never comes.
    const hello = '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'r'.repeat(60);
    expectCutOff(await drip(socket, hello), hello.length, 'closed');
  });

  it('a CONNECT tunnel that never sends a byte', async () => {
    const socket = await tunnel(gateway, token, upstreamAuthority);
    const outcome = await drip(socket, '');
    expect(outcome.answer).toBe('');
    expect(outcome.elapsedMs).toBeLessThan(10 * TIMEOUT_MS + 1000);
  });

  it('on the API port: a request head sent one byte at a time', async () => {
    const head = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(60)}\r\n\r\n`;
    const socket = await open(Number(new URL(gateway.urls.http).port));
    expectCutOff(await drip(socket, head), head.length, 'VEC_REQUEST_TIMEOUT');
  });
});
