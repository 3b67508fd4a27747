/**
 * The floor: the least a TLS-intercepting forward proxy on Node can do per request. CONNECT,
 * TLS with one fixed certificate, Node's HTTP parser, one header set (the credential) and a
 * pooled keep-alive HTTPS request upstream, piped back. No authentication, no pipeline, no
 * SSRF check, no audit, no redaction: nothing Vectra is for. Run in the orchestrator (like
 * Vectra, which is idle meanwhile) so that its CPU µs/req is measured the same way.
 *
 * It answers what the req/s ÷ direct target can be on this machine: the load generator, the
 * upstream and the proxy share the cores, and the proxy's TLS and HTTP work alone takes a share.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { Route } from './protocol';

export interface BareProxy {
  route: Route;
  close(): Promise<void>;
}

export async function startBareProxy(options: {
  /** Certificate and key for 127.0.0.1 (the upstream's, which the load generator can trust). */
  certPem: string;
  keyPem: string;
  caPem: string;
  /** Upstream CA, trusted for the upstream connection. */
  upstreamCaPem: string;
  upstreamPort: number;
  secret: string;
}): Promise<BareProxy> {
  const agent = new Agent({ keepAlive: true, ca: options.upstreamCaPem, maxSockets: 256 });
  const context = createSecureContext({ cert: options.certPem, key: options.keyPem });
  const inner = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers, authorization: `Bearer ${options.secret}` };
    const upstream = request(
      {
        host: '127.0.0.1',
        port: options.upstreamPort,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const sockets = new Set<Socket>();
  const outer: Server = createServer();
  outer.on('connect', (_req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
    tls.on('error', () => tls.destroy());
    inner.emit('connection', tls);
  });
  await new Promise<void>((resolve) => outer.listen(0, '127.0.0.1', resolve));
  const { port } = outer.address() as AddressInfo;
  return {
    route: { via: 'proxy', host: '127.0.0.1', port, caPem: options.caPem },
    async close() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => outer.close(() => resolve()));
    },
  };
}
