/**
 * A real local upstream for data-plane tests: HTTP and HTTPS on 127.0.0.1 (or `options.host`),
 * port 0, with a certificate from a test CA (written to a file the gateway trusts via
 * System.Proxy.UpstreamCaFile). It records what it received and answers with JSON describing the
 * request, unless a route (such as `serveDirectory`) answers first.
 */
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import { isAbsolute, join, posix, relative, resolve as resolvePath, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { selfSignedCertificate } from './certificates';
import { tempDir } from './temp-dir';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestUpstream {
  httpUrl: string;
  httpsUrl: string;
  httpsPort: number;
  httpPort: number;
  /** PEM file of the CA that signed the HTTPS certificate. */
  caFile: string;
  received: Received[];
  /** Handles Upgrade requests on the HTTPS server (WebSocket tests). */
  onUpgrade(handler: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): void;
  close(): Promise<void>;
}

export type Route = (req: IncomingMessage, res: ServerResponse, body: string) => boolean;

export interface UpstreamOptions {
  /**
   * Address to listen on and to name in `httpUrl`/`httpsUrl`, also added to the certificate's
   * names (e.g. 127.0.0.2, which `vectra run`'s NO_PROXY does not cover; Linux routes all of
   * 127/8 to lo). Default: listen on 127.0.0.1, URLs with `localhost`.
   */
  host?: string;
}

/** Answers 503 `down` to every path starting with `prefix`; other requests go to the next route. */
export function failUnder(prefix: string): Route {
  return (req, res) => {
    if (!req.url?.startsWith(prefix)) return false;
    res.writeHead(503).end('down');
    return true;
  };
}

/**
 * Serves the files under `directory` at `prefix` (e.g. `/repo.git`), as a static web server
 * does (enough for git's dumb HTTP protocol); 404 for anything missing under the prefix. Requests
 * outside the prefix go to the next route.
 */
export function serveDirectory(prefix: string, directory: string): Route {
  const root = resolvePath(directory);
  const base = prefix.replace(/\/+$/, '');
  return (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://upstream').pathname;
    if (pathname !== base && !pathname.startsWith(`${base}/`)) return false;
    const notFound = () => {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
      res.end('not found\n');
      return true;
    };
    let rest: string;
    try {
      rest = posix.normalize(decodeURIComponent(pathname.slice(base.length)));
    } catch {
      return notFound();
    }
    // A normalized path from a leading `/` cannot climb out of `root`; checked all the same.
    if (!rest.startsWith('/')) return notFound();
    const file = resolvePath(root, `.${rest}`);
    const inside = relative(root, file);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      return notFound();
    }
    let content: Buffer;
    try {
      if (!statSync(file).isFile()) return notFound();
      content = readFileSync(file);
    } catch {
      return notFound();
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': content.length,
    });
    res.end(req.method === 'HEAD' ? undefined : content);
    return true;
  };
}

function handler(received: Received[], routes: Route[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      for (const route of routes) if (route(req, res, body)) return;
      const answer = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyLength: body.length,
      });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer),
      });
      res.end(answer);
    });
  };
}

/**
 * For a describe block: a plain HTTP server answering with `handler` on 127.0.0.1, port 0,
 * from beforeAll (when `port` is filled in) until afterAll closes it and its connections.
 */
export function loopbackServer(handler: RequestListener): { port: number } {
  const bound = { port: 0 };
  const server = createHttpServer(handler);
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    bound.port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return bound;
}

export async function startUpstream(
  routes: Route[] = [],
  options: UpstreamOptions = {},
): Promise<TestUpstream> {
  const { host } = options;
  const cert = selfSignedCertificate(
    'localhost',
    host === undefined ? {} : isIP(host) ? { ipAddresses: [host] } : { dnsNames: [host] },
  );
  const dir = tempDir('vectra-upstream-');
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, cert.certPem);
  const received: Received[] = [];
  const http = createHttpServer(handler(received, routes));
  const https = createHttpsServer(
    { cert: cert.certPem, key: cert.keyPem },
    handler(received, routes),
  );
  const listen = (server: Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, host ?? '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  const [httpPort, httpsPort] = await Promise.all([listen(http), listen(https)]);
  const urlHost = host === undefined ? 'localhost' : isIP(host) === 6 ? `[${host}]` : host;
  return {
    httpPort,
    httpsPort,
    httpUrl: `http://${urlHost}:${httpPort}`,
    httpsUrl: `https://${urlHost}:${httpsPort}`,
    caFile,
    received,
    onUpgrade(handler) {
      https.on('upgrade', handler);
    },
    async close() {
      for (const server of [http, https]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
