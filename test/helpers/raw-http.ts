/**
 * HTTP/1.1 over raw sockets, for tests that must send request-targets no client library would
 * (absolute-form inside a tunnel, `//admin`, `*`): one keep-alive connection, one request at a
 * time, responses read by Content-Length or chunked framing. Also opens CONNECT tunnels, plain or
 * with TLS (the gateway's CA trusted).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ClientRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../../src/gateway';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One connection; `request` sends raw text and resolves with the next response. */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;

  constructor(readonly socket: Duplex) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    const onClose = () => {
      this.closed = true;
      this.waiting?.();
    };
    socket.on('close', onClose);
    socket.on('end', onClose);
    socket.on('error', onClose);
  }

  /** Sends `text` (a whole request) and reads one response; rejects when the connection closes. */
  async request(text: string): Promise<RawResponse> {
    if (this.closed) throw new Error('connection closed');
    this.socket.write(text, 'latin1');
    return this.readResponse();
  }

  async readResponse(): Promise<RawResponse> {
    let headEnd: number;
    while ((headEnd = this.buffer.indexOf('\r\n\r\n')) < 0) await this.more();
    const [statusLine, ...lines] = this.buffer
      .subarray(0, headEnd)
      .toString('latin1')
      .split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    let rest = headEnd + 4;
    let body: Buffer;
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      while (this.buffer.length < rest + length) await this.more();
      body = this.buffer.subarray(rest, rest + length);
      rest += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        let lineEnd: number;
        while ((lineEnd = this.buffer.indexOf('\r\n', rest)) < 0) await this.more();
        const size = parseInt(this.buffer.subarray(rest, lineEnd).toString('latin1'), 16);
        while (this.buffer.length < lineEnd + 2 + size + 2) await this.more();
        parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        rest = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else {
      while (!this.closed) await this.more();
      body = this.buffer.subarray(rest);
      rest = this.buffer.length;
    }
    this.buffer = this.buffer.subarray(rest);
    return { status, headers, body: body.toString('utf8') };
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private more(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve) => {
      this.waiting = () => {
        this.waiting = undefined;
        resolve();
      };
    });
  }
}

export function rawConnect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket: Socket = netConnect(port, host, () => {
      socket.off('error', reject);
      resolve(new RawConnection(socket));
    });
    socket.once('error', reject);
  });
}

export function basicProxyAuth(token: string, vault: string): string {
  return `Basic ${Buffer.from(`${token}:${vault}`).toString('base64')}`;
}

/** The gateway's answer to one request: its status and X-Vectra-Error, if any. */
export interface ProxyAnswer {
  status: number;
  code: string | undefined;
}

/** Ends `req` with `body` and resolves with its answer once the response has been read. */
export function answerTo(req: ClientRequest, body?: string): Promise<ProxyAnswer> {
  return new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          code: res.headers['x-vectra-error'] as string | undefined,
        }),
      );
    });
    req.end(body);
  });
}

/** What a raw-socket test needs to speak as one agent: its credential, the ports, the CA. */
export interface RawAgent {
  token: string;
  /** Proxy-Authorization: Basic of the token and the vault. */
  auth: string;
  proxyPort: number;
  apiPort: number;
  /** The gateway's CA (PEM), which its tunnel leaves chain to. */
  ca: string;
}

/** Creates vault `vault` (unmatched hosts pass through) with agent `agent` on `gateway`. */
export async function passthroughAgent(
  gateway: Gateway,
  vault: string,
  agent: string,
): Promise<RawAgent> {
  await gateway.vaults.createVault({ name: vault, unmatchedHosts: 'passthrough' });
  const { token } = await gateway.identity.createAgent({ name: agent, vaults: [vault] });
  return {
    token,
    auth: basicProxyAuth(token, vault),
    proxyPort: Number(new URL(gateway.urls.proxy).port),
    apiPort: Number(new URL(gateway.urls.http).port),
    ca: await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text(),
  };
}

/**
 * A CONNECT tunnel to `authority` through the proxy at `proxyPort`, as the raw socket after the
 * proxy's 200. Rejects with the proxy's status line otherwise.
 */
export async function connectTunnel(
  proxyPort: number,
  authority: string,
  proxyAuthorization: string,
): Promise<Socket> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect(proxyPort, '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${proxyAuthorization}\r\n\r\n`,
  );
  const answer = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  if (!answer.startsWith('HTTP/1.1 200')) {
    socket.destroy();
    throw new Error(`CONNECT refused: ${answer.split('\r\n')[0]}`);
  }
  return socket;
}

/**
 * TLS over a tunnel's socket, the gateway's CA trusted: SNI `servername` (none when undefined or
 * ''), and the leaf must name `host`.
 */
export function tlsOverTunnel(
  socket: Socket,
  ca: string,
  servername: string | undefined,
  host = servername ?? '',
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect(
      {
        socket,
        ca,
        servername,
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
      },
      () => resolve(tls),
    );
    tls.once('error', reject);
  });
}

/**
 * A CONNECT tunnel to `authority` through the proxy at `proxyPort`; with `ca`, TLS inside it
 * (SNI `servername`, the gateway's CA trusted). Rejects unless the proxy answers 200.
 */
export async function openTunnel(
  proxyPort: number,
  authority: string,
  proxyAuthorization: string,
  tls?: { ca: string; servername?: string },
): Promise<RawConnection> {
  const socket = await connectTunnel(proxyPort, authority, proxyAuthorization);
  if (!tls) return new RawConnection(socket);
  const host = authority.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const servername = tls.servername ?? (isIP(host) ? undefined : host);
  return new RawConnection(await tlsOverTunnel(socket, tls.ca, servername, servername || host));
}
