/**
 * One listening server with graceful shutdown: stop accepting, let in-flight requests finish
 * within a bound, then close what is left.
 */
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors';

export interface Listener {
  readonly name: string;
  readonly server: Server;
  /** Bound address (the real port when 0 was asked for). */
  address(): AddressInfo;
  /** Requests started and not yet finished. */
  inFlight(): number;
  /** Stops accepting; waits up to `timeoutMs` for in-flight requests, then drops connections. */
  close(timeoutMs: number): Promise<{ dropped: number }>;
}

export async function listen(
  name: string,
  server: Server,
  port: number,
  host: string,
): Promise<Listener> {
  const active = new Set<ServerResponse>();
  server.on('request', (_req, res) => {
    active.add(res);
    res.once('close', () => active.delete(res));
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new GatewayError(
          'VEC_SERVER_LISTEN_FAILED',
          `the ${name} listener cannot bind ${host}:${port}: ${err.code ?? err.message}`,
          {
            cause: err,
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  return {
    name,
    server,
    address: () => server.address() as AddressInfo,
    inFlight: () => active.size,
    close(timeoutMs) {
      return new Promise((resolve) => {
        let dropped = 0;
        // An answer still to come (a held request answered pending, say) closes its
        // connection, which would otherwise hold close() open until its keep-alive timeout.
        for (const res of active) if (!res.headersSent) res.setHeader('connection', 'close');
        const timer = setTimeout(() => {
          dropped = active.size;
          server.closeAllConnections();
        }, timeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve({ dropped });
        });
        // Keep-alive connections with no request in flight would hold close() open.
        server.closeIdleConnections();
      });
    },
  };
}
