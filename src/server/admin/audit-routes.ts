/**
 * A vault's audit log: `GET /v1/vaults/:vault/logs` (a page, newest first, with a cursor) and
 * `GET /v1/vaults/:vault/logs/stream` (server-sent events of rows as they are written, for
 * `vectra logs --follow`). A RouteSpec answers once, so the stream is an express handler of its
 * own, mounted by the admin router with the same authorizer as every other route.
 */
import type { Request } from 'express';
import { GatewayError } from '../../errors';
import type { AuditLog, AuditRow } from '../../audit/audit-log';
import { DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from '../../audit/audit-query';
import { silentLogger, type Logger } from '../../observability/types';
import type { VaultService } from '../../vault/service-types';
import { eventStreamRoute, follow, type EventStreamRoute } from './event-stream';
import type { RouteSpec } from './route';

type Vaults = Pick<VaultService, 'getVault'>;

export const AUDIT_STREAM_PATH = '/v1/vaults/:vault/logs/stream';
/** Rows a resumed stream replays at most before going live. */
const BACKLOG_LIMIT = 1000;

export function auditRoutes(vaults: Vaults, audit: Pick<AuditLog, 'query'>): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/vaults/:vault/logs',
      access: 'any',
      summary:
        "A vault's audit log, newest first (metadata only). Query: `limit` (default 100, at most 1000), `before` (the `next` cursor of the previous page, or an ISO time), `since` (ISO time)",
      handle: async (req) => {
        const vault = (await vaults.getVault(req.params.vault)).name;
        const limit = parseLimit(req.query.limit);
        const logs = await audit.query({
          vault,
          limit,
          before: req.query.before,
          since: req.query.since,
        });
        // A full page may have more behind it; the client asks again with `before=next`.
        const next = logs.length === limit ? String(logs[logs.length - 1].id) : undefined;
        return { body: { logs, ...(next === undefined ? {} : { next }) } };
      },
    },
  ];
}

function parseLimit(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_AUDIT_LIMIT;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new GatewayError('VEC_REQUEST_INVALID', '`limit` must be a positive integer.', {
      context: { field: 'limit' },
    });
  }
  return Math.min(Number(text), MAX_AUDIT_LIMIT);
}

export type AuditStream = EventStreamRoute;

export interface AuditStreamDeps {
  vaults: Vaults;
  audit: Pick<AuditLog, 'query' | 'subscribe'>;
  logger?: Logger;
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  heartbeatMs?: number;
}

export function createAuditStream(deps: AuditStreamDeps): AuditStream {
  const logger = deps.logger ?? silentLogger;
  return eventStreamRoute(
    AUDIT_STREAM_PATH,
    "Server-sent events (`event: log`, `id:` the row id) of a vault's audit rows as they are written. `after` (or `Last-Event-ID`): replay rows written after that id first",
    deps.heartbeatMs ?? 15_000,
    async (req, res, streams, stillAllowed) => {
      const vault = (await deps.vaults.getVault(String(req.params.vault))).name;
      const after = afterCursor(req);
      await follow<AuditRow>(res, streams, {
        subscribe: (onRow) => deps.audit.subscribe(vault, onRow),
        first: async () =>
          after === undefined
            ? []
            : (await deps.audit.query({ vault, after, limit: BACKLOG_LIMIT })).reverse(),
        text: (row) => `id: ${row.id}\nevent: log\ndata: ${JSON.stringify(row)}\n\n`,
        key: (row) => row.id,
        logger,
        what: 'audit log',
        meta: { vault },
        stillAllowed,
      });
    },
  );
}

function afterCursor(req: Request): string | undefined {
  const query = req.query.after;
  const value = typeof query === 'string' && query !== '' ? query : req.get('last-event-id');
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    throw new GatewayError('VEC_REQUEST_INVALID', '`after` must be a row id.', {
      context: { field: 'after' },
    });
  }
  return value;
}
