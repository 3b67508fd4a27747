/**
 * A real local upstream for data-plane tests: HTTP and HTTPS on 127.0.0.1, port 0, with a
 * certificate from a test CA (written to a file the gateway trusts via System.Proxy.UpstreamCaFile).
 * It records what it received and answers with JSON describing the request.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from './certificates';

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
  close(): Promise<void>;
}

export type Route = (req: IncomingMessage, res: ServerResponse, body: string) => boolean;

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

export async function startUpstream(routes: Route[] = []): Promise<TestUpstream> {
  const cert = selfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'vectra-upstream-'));
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
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  const [httpPort, httpsPort] = await Promise.all([listen(http), listen(https)]);
  return {
    httpPort,
    httpsPort,
    httpUrl: `http://localhost:${httpPort}`,
    httpsUrl: `https://localhost:${httpsPort}`,
    caFile,
    received,
    async close() {
      for (const server of [http, https]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
