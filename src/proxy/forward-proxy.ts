/**
 * The forward proxy listener (System.Proxy.Port): absolute-form `http://` requests, and
 * `CONNECT host:port` tunnels whose TLS Vectra terminates with a leaf certificate from its own
 * CA, so every request inside runs through the same pipeline. Plain HTTP inside a tunnel
 * (a client that CONNECTs to port 80) is handled too.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ProxyConfig } from '../config/schema';
import { GatewayError, isGatewayError } from '../errors';
import {
  parseAbsoluteForm,
  parseAuthorityForm,
  parseOriginForm,
  type OriginTarget,
} from '../http/request-target';
import type { AgentAuthenticator } from '../identity/agent-auth';
import type { ProxyRequest } from '../http/types';
import { formatAuthority, parseAuthority, type Authority } from '../http/authority';
import {
  contentLengthOf,
  hasBody,
  headerMap,
  rawRefusal,
  refuseRaw,
  runExchange,
  writeRefusal,
  type ExchangeDeps,
  type ExchangeInit,
} from './exchange';
import { httpTimeoutOptions, trackConnections } from './http-timeouts';
import { normalizeLeafHost } from './leaf-certificates';
import { parseProxyAuthorization, type ProxyCredentials } from './proxy-auth';
import { runUpgrade } from './upgrade';

export interface LeafCertificates {
  secureContextFor(host: string): Promise<SecureContext>;
}

export interface ForwardProxyDeps extends ExchangeDeps {
  config: ProxyConfig;
  agents: AgentAuthenticator;
  leafCertificates: LeafCertificates;
}

interface Tunnel {
  authority: Authority;
  /** `authority` as text, for every request's context. */
  authorityText: string;
  credentials: ProxyCredentials;
  scheme: 'http' | 'https';
  /** The last Host header seen in this tunnel and what it parsed to (keep-alive repeats it). */
  lastHost?: { header: string; authority: Authority | undefined };
}

/** What an exchange or upgrade inside `tunnel` starts from. */
function tunnelInit(tunnel: Tunnel, request: ProxyRequest): ExchangeInit {
  return {
    entry: 'tunnel',
    credentials: { ...tunnel.credentials },
    request,
    tunnelAuthority: tunnel.authorityText,
  };
}

const TLS_HANDSHAKE = 0x16;

function tunnelOf(
  authority: Authority,
  credentials: ProxyCredentials,
  scheme: Tunnel['scheme'],
): Tunnel {
  return { authority, authorityText: formatAuthority(authority), credentials, scheme };
}

export function createForwardProxy(deps: ForwardProxyDeps): Server {
  const { config, logger } = deps;
  const tunnels = new WeakMap<Socket, Tunnel>();
  const openTunnels = new Map<string, number>();
  // Slow clients: System.Proxy.HeadersTimeoutMilliseconds and RequestTimeoutMilliseconds on
  // both servers; TunnelIdleTimeoutMilliseconds for a tunnel's first byte and between requests.
  // No Host required: Node would refuse it with its own uncoded 400, yet an absolute-form target
  // names the host, and inside a tunnel the CONNECT authority does.
  const serverOptions = {
    maxHeaderSize: config.MaxHeaderBytes,
    requireHostHeader: false,
    ...httpTimeoutOptions(config, 'System.Proxy'),
  };

  const requestOf = (
    req: IncomingMessage,
    target: { scheme: 'http' | 'https'; authority: Authority; target: OriginTarget },
  ): ProxyRequest => {
    const headers = headerMap(req);
    delete headers['proxy-authorization'];
    return {
      method: req.method ?? 'GET',
      scheme: target.scheme,
      host: target.authority.host,
      port: target.authority.port,
      path: `${target.target.path}${target.target.query}`,
      headers,
      body: hasBody(req) ? req : undefined,
      contentLength: contentLengthOf(req),
      upgrade: false,
    };
  };

  /**
   * Inside a tunnel: an origin-form target is for the host its Host header names (checked against
   * the tunnel by the pipeline); an absolute-form one must name the tunnel's own scheme and
   * authority, and is rewritten to origin-form. Throws VEC_REQUEST_INVALID otherwise.
   */
  const tunnelTarget = (req: IncomingMessage, tunnel: Tunnel) => {
    const raw = req.url ?? '/';
    if (!raw.startsWith('/')) {
      const absolute = parseAbsoluteForm(raw);
      const { authority } = tunnel;
      if (
        !absolute ||
        absolute.scheme !== tunnel.scheme ||
        absolute.host !== authority.host ||
        absolute.port !== authority.port
      ) {
        throw new GatewayError(
          'VEC_REQUEST_INVALID',
          `Inside this tunnel to ${tunnel.authorityText} the request-target must be a path, or an absolute ${tunnel.scheme}:// URL for ${tunnel.authorityText}.`,
          { context: { field: 'target', tunnel: tunnel.authorityText } },
        );
      }
      return { scheme: tunnel.scheme, authority, target: absolute };
    }
    const header = req.headers.host;
    let parsed: Authority | undefined;
    if (header !== undefined && tunnel.lastHost?.header === header) {
      parsed = tunnel.lastHost.authority;
    } else {
      parsed = parseAuthority(header, tunnel.scheme === 'https' ? 443 : 80);
      if (header !== undefined) tunnel.lastHost = { header, authority: parsed };
    }
    return {
      scheme: tunnel.scheme,
      authority: parsed ?? tunnel.authority,
      target: parseOriginForm(raw),
    };
  };

  /** The tunnel's request, or a refusal of its target written back (undefined then). */
  const tunnelRequest = (
    req: IncomingMessage,
    tunnel: Tunnel,
    refuse: (error: GatewayError) => void,
  ): ProxyRequest | undefined => {
    try {
      return requestOf(req, tunnelTarget(req, tunnel));
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      req.resume();
      refuse(err);
      return undefined;
    }
  };

  // Requests inside tunnels arrive on this server (never listening: sockets are handed to it).
  const inner = createServer(serverOptions, (req, res) => {
    const tunnel = tunnels.get(req.socket as Socket);
    if (!tunnel) {
      res.destroy();
      return;
    }
    const request = tunnelRequest(req, tunnel, (error) => writeRefusal(res, error, 'tunnel'));
    if (!request) return;
    void runExchange(deps, tunnelInit(tunnel, request), { req, res });
  });
  inner.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const tunnel = tunnels.get(req.socket as Socket);
    if (!tunnel) {
      socket.destroy();
      return;
    }
    const request = tunnelRequest(req, tunnel, (error) => socket.end(rawRefusal(error)));
    if (!request) return;
    void runUpgrade(deps, tunnelInit(tunnel, request), { req, socket, head });
  });
  inner.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseRaw(socket, err));
  inner.keepAliveTimeout = config.TunnelIdleTimeoutMilliseconds;
  trackConnections(inner);

  const server = createServer(serverOptions, (req: IncomingMessage, res: ServerResponse) => {
    // Absolute-form: `GET http://host/path HTTP/1.1`.
    let target: ReturnType<typeof parseAbsoluteForm>;
    try {
      target = parseAbsoluteForm(req.url ?? '');
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      req.resume();
      writeRefusal(res, err, 'forward');
      return;
    }
    if (target?.scheme !== 'http') {
      req.resume();
      writeRefusal(
        res,
        new GatewayError(
          'VEC_REQUEST_MALFORMED',
          'The forward proxy takes absolute-form http:// requests and CONNECT; use HTTPS_PROXY for https:// URLs.',
        ),
        'forward',
      );
      return;
    }
    void runExchange(
      deps,
      {
        entry: 'forward',
        credentials: parseProxyAuthorization(req.headers['proxy-authorization']),
        request: requestOf(req, {
          scheme: 'http',
          authority: { host: target.host, port: target.port },
          target,
        }),
      },
      { req, res },
    );
  });

  const tunnelSockets = new Set<Socket>();
  server.on('connect', (req: IncomingMessage, clientSocket: Socket, head: Buffer) => {
    tunnelSockets.add(clientSocket);
    clientSocket.once('close', () => tunnelSockets.delete(clientSocket));
    // HTTP servers allow half-open sockets; a tunnel whose client is gone must close our side too.
    clientSocket.once('end', () => clientSocket.end());
    // A client that resets its tunnel must not take the gateway down.
    clientSocket.on('error', (err: Error) =>
      logger.debug('tunnel socket error', { message: err.message }),
    );
    void openTunnel(req, clientSocket, head).catch((err: unknown) => {
      logger.warn('tunnel failed', {
        code: (err as GatewayError).code,
        message: (err as Error).message,
      });
      clientSocket.destroy();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseRaw(socket, err));

  async function openTunnel(
    req: IncomingMessage,
    clientSocket: Socket,
    head: Buffer,
  ): Promise<void> {
    // Parsed like an absolute-form target's host, so that a host the resolver would dial as an
    // address (`2130706433`, `127.1`) cannot reach the policies under another name.
    let authority: Authority;
    try {
      authority = parseAuthorityForm(req.url ?? '');
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      return refuseTunnel(clientSocket, err);
    }
    const credentials = parseProxyAuthorization(req.headers['proxy-authorization']);
    if (!credentials.token)
      return refuseTunnel(clientSocket, new GatewayError('VEC_PROXY_AUTH_REQUIRED'));
    let agent: string;
    try {
      const principal = await deps.agents.authenticate(credentials.token);
      agent =
        principal.kind === 'session'
          ? `session:${principal.sessionId}`
          : `agent:${principal.agentId}`;
    } catch {
      return refuseTunnel(
        clientSocket,
        new GatewayError(
          'VEC_PROXY_AUTH_REQUIRED',
          'The proxy token is unknown, revoked or expired.',
        ),
      );
    }
    const open = openTunnels.get(agent) ?? 0;
    if (open >= config.MaxTunnelsPerAgent)
      return refuseTunnel(clientSocket, new GatewayError('VEC_TUNNEL_LIMIT'));
    openTunnels.set(agent, open + 1);
    deps.metrics?.tunnelOpened();
    clientSocket.once('close', () => {
      const left = (openTunnels.get(agent) ?? 1) - 1;
      if (left <= 0) openTunnels.delete(agent);
      else openTunnels.set(agent, left);
      deps.metrics?.tunnelClosed();
    });

    clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) clientSocket.unshift(head);
    // A tunnel that sends nothing, or never finishes its TLS handshake, holds a socket and a
    // tunnel slot: closed after TunnelIdleTimeoutMilliseconds. Then the inner server's header,
    // request and keep-alive timeouts apply.
    const deadline = setTimeout(() => clientSocket.destroy(), config.TunnelIdleTimeoutMilliseconds);
    deadline.unref();
    clientSocket.once('close', () => clearTimeout(deadline));
    const first = await firstByte(clientSocket);
    if (first === undefined) return;
    if (first !== TLS_HANDSHAKE) {
      clearTimeout(deadline);
      tunnels.set(clientSocket, tunnelOf(authority, credentials, 'http'));
      inner.emit('connection', clientSocket);
      return;
    }
    // The leaf names the CONNECT host whatever the SNI says (a name with a port, an IP literal,
    // none, another name): requests inside are bound to that host anyway, and such clients must
    // not lose their handshake. An unusual SNI is worth one warning per tunnel.
    const context = await deps.leafCertificates.secureContextFor(authority.host);
    const tls = new TLSSocket(clientSocket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ['http/1.1'],
    });
    tls.once('secure', () => {
      clearTimeout(deadline);
      const sni = typeof tls.servername === 'string' ? tls.servername : '';
      const expected = normalizeLeafHost(authority.host);
      const usual = sni ? normalizeLeafHost(sni) === expected : isIP(expected) !== 0;
      if (usual) return;
      logger.warn("tunnel TLS client sent an unusual SNI; answered with the CONNECT host's leaf", {
        tunnel: formatAuthority(authority),
        sni: sni ? sni.slice(0, 255) : '(none)',
      });
    });
    tls.on('error', (err: Error) =>
      logger.debug('tunnel TLS error', { message: err.message, host: authority.host }),
    );
    tunnels.set(tls as unknown as Socket, tunnelOf(authority, credentials, 'https'));
    inner.emit('connection', tls);
  }

  // Tunnels left the HTTP server's bookkeeping when they were taken over, so its graceful close
  // would wait on them forever: close idle ones with the idle connections, and drop the rest
  // (open WebSockets included) when the drain bound runs out.
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    inner.closeIdleConnections();
  };
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    inner.closeAllConnections();
    for (const socket of tunnelSockets) socket.destroy();
  };
  server.on('close', () => inner.close());
  return server;
}

/** Waits for the first byte and puts it back, to tell TLS from plain HTTP. */
function firstByte(socket: Socket): Promise<number | undefined> {
  return new Promise((resolve) => {
    const onReadable = () => {
      const chunk = socket.read(1) as Buffer | null;
      if (chunk === null) return;
      cleanup();
      socket.unshift(chunk);
      resolve(chunk[0]);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const cleanup = () => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

function refuseTunnel(socket: Socket, error: GatewayError): void {
  socket.end(rawRefusal(error));
}
