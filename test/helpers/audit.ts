/**
 * Audit rows of a test gateway, read once the asynchronous audit log has written them; and the
 * audit routes served alone on the real API app, for the route and `vectra logs` tests.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Router, type Request, type Response } from 'express';
import { MemoryCache } from '../../src/cache/memory';
import type { Gateway } from '../../src/gateway';
import { createAgentAuthenticator } from '../../src/identity/agent-auth';
import { createAuthThrottle } from '../../src/identity/auth-throttle';
import {
  createAuditLog,
  type AuditEntry,
  type AuditLog,
  type AuditRow,
} from '../../src/audit/audit-log';
import { silentLogger } from '../../src/observability/types';
import {
  AUDIT_STREAM_PATH,
  auditRoutes,
  createAuditStream,
  type AuditStream,
} from '../../src/server/admin/audit-routes';
import { createAuthorizer } from '../../src/server/admin/authorize';
import { toRouteRequest } from '../../src/server/admin/route';
import { openDatabase } from '../../src/storage';
import { createCipher } from '../../src/vault/crypto';
import { createVaultServices, type VaultServices } from './vault-services';
import { sqliteConfig } from '../integration/storage-test-helpers';
import { serveApiRouter } from './api-app';
import { testConfig } from './gateway';
import { tempDir } from './temp-dir';

/**
 * The newest audit row of `vault` whose path is `path`, once written: the log is flushed and
 * queried until the row shows up (up to 100 tries `intervalMs` apart), else this rejects.
 */
export async function waitForAuditRow(
  gateway: Gateway,
  vault: string,
  path: string,
  intervalMs = 20,
): Promise<AuditRow> {
  for (let attempt = 0; attempt < 100; attempt++) {
    await gateway.audit.flush();
    const row = (await gateway.audit.query({ vault, limit: 1000 })).find((r) => r.path === path);
    if (row) return row;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`no audit row for ${path}`);
}

/**
 * A maker of numbered audit entries (`req-1`, `req-2`, …, one second apart from 2030-01-01):
 * the agent `bot` of vault `team` allowed a GET to https://api.example.com/v1/items through
 * service `api`. `fields(n)` changes the n-th entry for a whole file, `overrides` one entry.
 */
export function auditEntries(
  fields: (n: number) => Partial<AuditEntry> = () => ({}),
): (overrides?: Partial<AuditEntry>) => AuditEntry {
  let sequence = 0;
  return (overrides = {}) => {
    sequence += 1;
    return {
      at: new Date(Date.parse('2030-01-01T00:00:00Z') + sequence * 1000),
      requestId: `req-${sequence}`,
      agent: 'bot',
      vault: 'team',
      method: 'GET',
      host: 'api.example.com',
      port: 443,
      path: '/v1/items',
      service: 'api',
      decision: 'allow',
      status: 200,
      latencyMs: 5,
      bytesIn: 10,
      bytesOut: 20,
      ...fields(sequence),
      ...overrides,
    };
  };
}

export interface AuditRoutesServer {
  url: string;
  vaults: VaultServices;
  audit: AuditLog;
  stream: AuditStream;
  close(): Promise<void>;
}

/**
 * The audit routes and their event stream on the real API app (error middleware included),
 * authorized by the real authorizer and mounted the way the admin router mounts routes, over a
 * fresh SQLite database. `heartbeatMs` is the stream's heartbeat interval.
 */
export async function startAuditRoutesServer(
  options: { heartbeatMs?: number } = {},
): Promise<AuditRoutesServer> {
  const dir = tempDir('vectra-audit-api-');
  const db = await openDatabase(sqliteConfig(`Data Source=${join(dir, 'vectra.db')}`));
  const cache = new MemoryCache({ sweepIntervalMs: 0 });
  const vaults = createVaultServices({ db, cipher: createCipher(randomBytes(32)), cache });
  const audit = createAuditLog({
    db,
    cache,
    config: { RetentionDays: 30, MaxRows: 1000 },
    logger: silentLogger,
  });
  const stream = createAuditStream({ vaults, audit, heartbeatMs: options.heartbeatMs });
  const authorize = createAuthorizer({
    identity: vaults,
    agents: createAgentAuthenticator(testConfig().Security.AgentAuth, vaults),
    throttle: createAuthThrottle({ cache }),
  });
  const router = Router();
  router.get(AUDIT_STREAM_PATH, stream.handler(authorize));
  for (const route of auditRoutes(vaults, audit)) {
    router[route.method](route.path, async function handleRoute(req: Request, res: Response) {
      const principal = await authorize(route.access, req);
      const answer = await route.handle(toRouteRequest(req, principal));
      res.status(answer.status ?? route.status ?? 200);
      res.setHeader('Cache-Control', 'no-store');
      res.json(answer.body);
    });
  }
  const served = await serveApiRouter(router);
  return {
    url: served.url,
    vaults,
    audit,
    stream,
    async close() {
      stream.close();
      await served.close();
      await audit.close();
      await vaults.close();
      await cache.close();
      await db.close();
    },
  };
}
