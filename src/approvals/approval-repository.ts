/**
 * The `approvals` table (migration 6): the SQL that reads and writes approvals, written once on
 * SqlClient for SQLite and PostgreSQL. Every change of status is one conditional UPDATE, so two
 * replicas (or two approvers) racing on the same approval cannot both win. Times are the
 * 24-character ISO form, so text comparison is time comparison.
 */
import type { SqlClient, SqlValue } from '../storage/types';
import type { Approval, ApprovalScope, ApprovalStatus, Decider } from './types';

/** An approval as stored, with the key that binds it to one request. */
export interface StoredApproval extends Approval {
  requestKey: string;
}

interface DbRow {
  id: string;
  request_key: string;
  agent: string;
  vault: string;
  service: string | null;
  method: string;
  scheme: string;
  host: string;
  port: number | bigint;
  path: string;
  url: string;
  headers: string;
  body_sha256: string;
  body_size: number | bigint;
  body_preview: string | null;
  explanation: string;
  risk: number | null;
  reasons: string;
  created_at: string;
  expires_at: string;
  status: ApprovalStatus;
  decided_at: string | null;
  decided_by_id: string | null;
  decided_by_name: string | null;
  scope: ApprovalScope | null;
  standing_until: string | null;
  path_pattern: string | null;
  comment: string | null;
  used_at: string | null;
  revoked_at: string | null;
}

const INSERTED = [
  'id',
  'request_key',
  'agent',
  'vault',
  'service',
  'method',
  'scheme',
  'host',
  'port',
  'path',
  'url',
  'headers',
  'body_sha256',
  'body_size',
  'body_preview',
  'explanation',
  'risk',
  'reasons',
  'created_at',
  'expires_at',
  'status',
] as const;

function fromDb(row: DbRow): StoredApproval {
  return {
    id: row.id,
    requestKey: row.request_key,
    agent: row.agent,
    vault: row.vault,
    service: row.service,
    method: row.method,
    scheme: row.scheme === 'http' ? 'http' : 'https',
    host: row.host,
    port: Number(row.port),
    path: row.path,
    url: row.url,
    headers: JSON.parse(row.headers) as Record<string, string>,
    bodySha256: row.body_sha256,
    bodySize: Number(row.body_size),
    bodyPreview: row.body_preview,
    explanation: row.explanation,
    risk: row.risk === null ? null : Number(row.risk),
    reasons: JSON.parse(row.reasons) as string[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    status: row.status,
    decidedAt: row.decided_at,
    decidedBy:
      row.decided_by_id === null
        ? null
        : { id: row.decided_by_id, name: row.decided_by_name ?? '' },
    scope: row.scope,
    standingUntil: row.standing_until,
    pathPattern: row.path_pattern,
    comment: row.comment,
    usedAt: row.used_at,
    revokedAt: row.revoked_at,
  };
}

export async function insertApproval(db: SqlClient, approval: StoredApproval): Promise<void> {
  const values: SqlValue[] = [
    approval.id,
    approval.requestKey,
    approval.agent,
    approval.vault,
    approval.service,
    approval.method,
    approval.scheme,
    approval.host,
    approval.port,
    approval.path,
    approval.url,
    JSON.stringify(approval.headers),
    approval.bodySha256,
    approval.bodySize,
    approval.bodyPreview,
    approval.explanation,
    approval.risk,
    JSON.stringify(approval.reasons),
    approval.createdAt,
    approval.expiresAt,
    approval.status,
  ];
  const placeholders = INSERTED.map((_c, i) => `$${i + 1}`).join(', ');
  await db.run(`INSERT INTO approvals (${INSERTED.join(', ')}) VALUES (${placeholders})`, values);
}

export async function getApproval(db: SqlClient, id: string): Promise<StoredApproval | undefined> {
  const row = await db.get<DbRow>('SELECT * FROM approvals WHERE id = $1', [id]);
  return row && fromDb(row);
}

export async function getApprovals(
  db: SqlClient,
  ids: readonly string[],
): Promise<StoredApproval[]> {
  if (ids.length === 0) return [];
  const placeholders = ids.map((_id, i) => `$${i + 1}`).join(', ');
  const rows = await db.all<DbRow>(`SELECT * FROM approvals WHERE id IN (${placeholders})`, [
    ...ids,
  ]);
  return rows.map(fromDb);
}

/** The newest approval asked for this exact request, whatever its status. */
export async function latestForRequest(
  db: SqlClient,
  requestKey: string,
): Promise<StoredApproval | undefined> {
  const row = await db.get<DbRow>(
    'SELECT * FROM approvals WHERE request_key = $1 ORDER BY created_at DESC, id DESC LIMIT 1',
    [requestKey],
  );
  return row && fromDb(row);
}

export async function countPending(db: SqlClient, agent: string, now: string): Promise<number> {
  const row = await db.get<{ n: number | bigint }>(
    "SELECT COUNT(*) AS n FROM approvals WHERE agent = $1 AND status = 'pending' AND expires_at > $2",
    [agent, now],
  );
  return Number(row?.n ?? 0);
}

/** Approvals pending and not yet expired, of every agent. */
export async function countAllPending(db: SqlClient, now: string): Promise<number> {
  const row = await db.get<{ n: number | bigint }>(
    "SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > $1",
    [now],
  );
  return Number(row?.n ?? 0);
}

export interface ApprovalQuery {
  /** `pending` means pending and not yet expired; `expired` includes pending rows past expiry. */
  status?: ApprovalStatus;
  vault?: string;
  agent?: string;
  limit: number;
}

/** Newest first. */
export async function listApprovals(
  db: SqlClient,
  query: ApprovalQuery,
  now: string,
): Promise<StoredApproval[]> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const param = (value: SqlValue) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.status === 'pending') where.push(`status = 'pending' AND expires_at > ${param(now)}`);
  else if (query.status === 'expired') {
    where.push(`(status = 'expired' OR (status = 'pending' AND expires_at <= ${param(now)}))`);
  } else if (query.status) where.push(`status = ${param(query.status)}`);
  if (query.vault) where.push(`vault = ${param(query.vault)}`);
  if (query.agent) where.push(`agent = ${param(query.agent)}`);
  const sql =
    'SELECT * FROM approvals' +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY created_at DESC, id DESC LIMIT ${param(query.limit)}`;
  return (await db.all<DbRow>(sql, params)).map(fromDb);
}

export interface DecisionUpdate {
  status: 'approved' | 'denied';
  decidedAt: string;
  decidedBy: Decider;
  scope: ApprovalScope | null;
  standingUntil: string | null;
  pathPattern: string | null;
  comment: string | null;
}

/** Decides a pending, unexpired approval; false when it was not (any more) pending. */
export async function decideApproval(
  db: SqlClient,
  id: string,
  update: DecisionUpdate,
): Promise<boolean> {
  const result = await db.run(
    `UPDATE approvals SET status = $2, decided_at = $3, decided_by_id = $4, decided_by_name = $5,
       scope = $6, standing_until = $7, path_pattern = $8, comment = $9
     WHERE id = $1 AND status = 'pending' AND expires_at > $3`,
    [
      id,
      update.status,
      update.decidedAt,
      update.decidedBy.id,
      update.decidedBy.name,
      update.scope,
      update.standingUntil,
      update.pathPattern,
      update.comment,
    ],
  );
  return result.changes === 1;
}

/**
 * Uses an approved `once` approval decided after `decidedAfter`; false when another request used
 * it first or it was decided too long ago.
 */
export async function useApproval(
  db: SqlClient,
  id: string,
  now: string,
  decidedAfter: string,
): Promise<boolean> {
  const result = await db.run(
    `UPDATE approvals SET status = 'used', used_at = $2
     WHERE id = $1 AND status = 'approved' AND scope = 'once' AND decided_at > $3`,
    [id, now, decidedAfter],
  );
  return result.changes === 1;
}

/** Marks pending approvals past their expiry as expired and returns them (each once, on one replica). */
export async function expireDue(db: SqlClient, now: string): Promise<StoredApproval[]> {
  const rows = await db.all<DbRow>(
    `UPDATE approvals SET status = 'expired'
     WHERE status = 'pending' AND expires_at <= $1 RETURNING *`,
    [now],
  );
  return rows.map(fromDb);
}

const STANDING = `status = 'approved' AND scope IN ('session', 'always') AND revoked_at IS NULL
  AND (standing_until IS NULL OR standing_until > $1)`;

/** Standing approvals in force for this agent, vault, method and origin (the path is matched by the caller). */
export async function standingFor(
  db: SqlClient,
  request: {
    agent: string;
    vault: string;
    method: string;
    scheme: string;
    host: string;
    port: number;
  },
  now: string,
): Promise<StoredApproval[]> {
  const rows = await db.all<DbRow>(
    `SELECT * FROM approvals WHERE ${STANDING}
       AND agent = $2 AND vault = $3 AND method = $4 AND scheme = $5 AND host = $6 AND port = $7
     ORDER BY decided_at, id`,
    [now, request.agent, request.vault, request.method, request.scheme, request.host, request.port],
  );
  return rows.map(fromDb);
}

export async function listStanding(
  db: SqlClient,
  query: { vault?: string; agent?: string },
  now: string,
): Promise<StoredApproval[]> {
  const params: SqlValue[] = [now];
  let sql = `SELECT * FROM approvals WHERE ${STANDING}`;
  if (query.vault) {
    params.push(query.vault);
    sql += ` AND vault = $${params.length}`;
  }
  if (query.agent) {
    params.push(query.agent);
    sql += ` AND agent = $${params.length}`;
  }
  return (await db.all<DbRow>(`${sql} ORDER BY decided_at DESC, id DESC`, params)).map(fromDb);
}

/** Ends a standing approval; false when it is not one in force. */
export async function revokeStanding(db: SqlClient, id: string, now: string): Promise<boolean> {
  const result = await db.run(
    `UPDATE approvals SET revoked_at = $1 WHERE id = $2 AND ${STANDING}`,
    [now, id],
  );
  return result.changes === 1;
}
