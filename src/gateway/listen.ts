/**
 * The listeners: the forward proxy first (so /discover can name its port), then the API on
 * HTTP and, when enabled, HTTPS. On shutdown the open streams end, then every listener drains
 * within System.Server.ShutdownTimeoutSeconds; what is left is dropped and counted.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import type { VectraConfig } from '../config/schema';
import type { Logger } from '../observability/types';
import { refuseRaw } from '../proxy/exchange';
import { httpTimeoutOptions } from '../proxy/http-timeouts';
import { listen as listenOn, type Listener } from '../server/listener';
import { loadServerCertificate } from '../server/tls';
import type { Defer } from './shutdown';

/** `http://host:port` of each listener. */
export interface GatewayUrls {
  http: string;
  https?: string;
  proxy: string;
}

export interface Listening {
  readonly urls: GatewayUrls;
  /** Requests started on any listener and not yet finished. */
  inFlight(): number;
}

export interface ListenOptions {
  /** Builds the forward proxy server; called once the API's timeouts are checked. */
  proxy: () => HttpServer;
  /** The API app, served on HTTP and HTTPS. */
  app: Express;
  logger: Logger;
  defer: Defer;
  /** Runs before the listeners drain. */
  beforeDrain: () => Promise<void>;
  /** Told the proxy's port as soon as it is bound, before the API listens. */
  onProxyListening: (port: number) => void;
}

export async function listen(
  config: Readonly<VectraConfig>,
  { proxy, app, logger, defer, beforeDrain, onProxyListening }: ListenOptions,
): Promise<Listening> {
  const server = config.System.Server;
  // Slow clients on the API port (the proxy port sets its own from System.Proxy). No Host
  // required (Node's own 400 for it has no code): `/proxy/<url>` names its host, and the
  // admin routes do not read it. Parser-level refusals carry a code, as on the proxy port.
  const apiOptions = { ...httpTimeoutOptions(server, 'System.Server'), requireHostHeader: false };
  const coded = <T extends HttpServer>(api: T): T =>
    api.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseRaw(socket, err));
  const listeners: Listener[] = [];
  defer(async () => {
    const timeoutMs = server.ShutdownTimeoutSeconds * 1000;
    const results = await Promise.all(listeners.map((l) => l.close(timeoutMs)));
    const dropped = results.reduce((n, r) => n + r.dropped, 0);
    if (dropped > 0)
      logger.warn(
        `shutdown: ${dropped} request(s) did not finish within ${server.ShutdownTimeoutSeconds}s and were dropped`,
      );
  });
  defer(beforeDrain);
  const proxyListener = await listenOn('proxy', proxy(), config.System.Proxy.Port, server.Host);
  listeners.push(proxyListener);
  onProxyListening(proxyListener.address().port);
  const http = await listenOn(
    'HTTP',
    coded(createHttpServer(apiOptions, app)),
    server.Http.Port,
    server.Host,
  );
  listeners.push(http);
  const urls: GatewayUrls = { http: urlOf('http', http), proxy: urlOf('http', proxyListener) };
  if (server.Https.Enabled) {
    const tls = loadServerCertificate(server.Https.Certificate);
    const https = await listenOn(
      'HTTPS',
      coded(createHttpsServer({ ...tls, ...apiOptions }, app)),
      server.Https.Port,
      server.Host,
    );
    listeners.push(https);
    urls.https = urlOf('https', https);
  }
  return { urls, inFlight: () => listeners.reduce((n, l) => n + l.inFlight(), 0) };
}

function urlOf(scheme: string, listener: Listener): string {
  const { address, port, family } = listener.address();
  const host =
    address === '0.0.0.0' || address === '::'
      ? '127.0.0.1'
      : family === 'IPv6'
        ? `[${address}]`
        : address;
  return `${scheme}://${host}:${port}`;
}
