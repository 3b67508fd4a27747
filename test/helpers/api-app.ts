/** The real API app (error middleware, health, metrics) serving one router, on port 0. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import { createMetrics } from '../../src/observability/metrics';
import { silentLogger } from '../../src/observability/types';
import { createApiApp } from '../../src/server/app';
import { HealthService } from '../../src/observability/health';

export interface ServedApi {
  url: string;
  /** Closes the server and every connection it still holds. */
  close(): Promise<void>;
}

export async function serveApiRouter(router: Router): Promise<ServedApi> {
  const app = createApiApp({
    logger: silentLogger,
    metrics: createMetrics(),
    health: new HealthService(),
    maxBodyBytes: 1_000_000,
    routers: [{ path: '/', router }],
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
