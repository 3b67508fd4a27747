/**
 * The `audit_log` table (migration 3): what a row may hold and the SQL that reads and writes it.
 * `toNewRow` is the one gate from an entry to a row: known fields only, each bounded, and the
 * path without query values, so nothing a caller adds (headers, bodies) can reach the table.
 *
 * The SQL is written once on SqlClient and runs on SQLite and PostgreSQL. Rows are ordered
 * newest first by (at, id); `at` is always the 24-character UTC form of Date#toISOString, so
 * text comparison is time comparison under any collation.
 */
import type { SqlClient, SqlValue } from '../storage/types';

export type AuditDecision = 'allow' | 'deny' | 'error';

/** One stored row, as the API and `vectra logs` show it. Absent values are null. */
export interface AuditRow {
  id: number;
  at: string;
  requestId: string;
  agent: string | null;
  vault: string | null;
  method: string;
  host: string;
  port: number;
  path: string;
  service: string | null;
  decision: AuditDecision;
  status: number | null;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  errorCode: string | null;
  /** The approval event this row records (`approval.created`, …); null for a proxied request. */
  event: string | null;
  approvalId: string | null;
}

export type NewAuditRow = Omit<AuditRow, 'id'>;

export interface AuditEntry {
  at: Date;
  requestId: string;
  agent?: string;
  vault?: string;
  method: string;
  host: string;
  port: number;
  /** Path and query as requested; query values and fragments are dropped before storing. */
  path: string;
  service?: string;
  decision: AuditDecision;
  status?: number;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  errorCode?: string;
  /** For an approval event (src/approvals/approval-service.ts): `approval.created`, … */
  event?: string;
  approvalId?: string;
}

export interface AuditListQuery {
  vault: string;
  limit: number;
  /** Rows strictly older than this row (by at, then id). */
  beforeRow?: { at: string; id: number };
  /** Rows strictly older than this time. */
  beforeTime?: string;
  /** Rows at or after this time. */
  since?: string;
  /** Rows with a larger id (inserted later): the backlog of a resumed stream. */
  afterId?: number;
}

const COLUMNS = [
  'at',
  'request_id',
  'agent',
  'vault',
  'method',
  'host',
  'port',
  'path',
  'service',
  'decision',
  'status',
  'latency_ms',
  'bytes_in',
  'bytes_out',
  'error_code',
  'event',
  'approval_id',
] as const;
const SELECTED = `id, ${COLUMNS.join(', ')}`;
const QUERY_NAME = /^[A-Za-z0-9_.[\]-]{1,64}$/;

/**
 * Multi-row INSERTs use a power-of-two number of rows, so a batch of any size needs at most
 * seven distinct statements (SQLite caches prepared statements per SQL text).
 */
const CHUNK_SIZES = [64, 32, 16, 8, 4, 2, 1];
/** Rows removed per DELETE while pruning, so no statement holds the write lock for long. */
const DELETE_CHUNK = 5000;

/** A row as the driver returns it: snake_case where the names differ, counts maybe bigint. */
interface DbRow extends Omit<
  AuditRow,
  'id' | 'requestId' | 'latencyMs' | 'bytesIn' | 'bytesOut' | 'errorCode' | 'approvalId'
> {
  id: number | bigint;
  request_id: string;
  latency_ms: number | bigint;
  bytes_in: number | bigint;
  bytes_out: number | bigint;
  error_code: string | null;
  approval_id: string | null;
}

function fromDb(row: DbRow): AuditRow {
  return {
    id: Number(row.id),
    at: row.at,
    requestId: row.request_id,
    agent: row.agent,
    vault: row.vault,
    method: row.method,
    host: row.host,
    port: Number(row.port),
    path: row.path,
    service: row.service,
    decision: row.decision,
    status: row.status === null ? null : Number(row.status),
    latencyMs: Number(row.latency_ms),
    bytesIn: Number(row.bytes_in),
    bytesOut: Number(row.bytes_out),
    errorCode: row.error_code,
    event: row.event ?? null,
    approvalId: row.approval_id ?? null,
  };
}

function toDb(row: NewAuditRow): SqlValue[] {
  return [
    row.at,
    row.requestId,
    row.agent,
    row.vault,
    row.method,
    row.host,
    row.port,
    row.path,
    row.service,
    row.decision,
    row.status,
    row.latencyMs,
    row.bytesIn,
    row.bytesOut,
    row.errorCode,
    row.event,
    row.approvalId,
  ];
}

const insertStatements = new Map<number, string>();

/** The INSERT … RETURNING id of `rows` rows, written once per size. */
function insertSql(rows: number): string {
  let sql = insertStatements.get(rows);
  if (sql === undefined) {
    const values = Array.from({ length: rows }, (_, r) => {
      const base = r * COLUMNS.length;
      return `(${COLUMNS.map((_c, i) => `$${base + i + 1}`).join(', ')})`;
    });
    sql = `INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES ${values.join(', ')} RETURNING id`;
    insertStatements.set(rows, sql);
  }
  return sql;
}

/** Inserts `rows` and returns them as stored (with their ids), in no particular order. */
export async function insertAuditRows(
  client: SqlClient,
  rows: readonly NewAuditRow[],
): Promise<AuditRow[]> {
  const stored: AuditRow[] = [];
  let offset = 0;
  while (offset < rows.length) {
    const size = CHUNK_SIZES.find((n) => n <= rows.length - offset)!;
    const chunk = rows.slice(offset, offset + size);
    offset += size;
    const inserted = await client.all<{ id: number | bigint }>(
      insertSql(size),
      chunk.flatMap(toDb),
    );
    // Only the ids come back (materialising every column again cost as much as the insert).
    // Identity values are drawn row by row in VALUES order, so ascending ids pair with the rows
    // in order, whatever order RETURNING lists them in.
    if (inserted.length !== chunk.length) {
      throw new Error(`audit insert returned ${inserted.length} ids for ${chunk.length} rows`);
    }
    const ids = inserted.map((row) => Number(row.id)).sort((a, b) => a - b);
    chunk.forEach((row, i) => stored.push({ id: ids[i], ...row }));
  }
  return stored;
}

export async function listAuditRows(client: SqlClient, query: AuditListQuery): Promise<AuditRow[]> {
  const params: SqlValue[] = [query.vault];
  const param = (value: SqlValue): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = ['vault = $1'];
  if (query.since !== undefined) where.push(`at >= ${param(query.since)}`);
  if (query.beforeTime !== undefined) where.push(`at < ${param(query.beforeTime)}`);
  if (query.beforeRow) {
    const at = param(query.beforeRow.at);
    where.push(`(at < ${at} OR (at = ${at} AND id < ${param(query.beforeRow.id)}))`);
  }
  if (query.afterId !== undefined) where.push(`id > ${param(query.afterId)}`);
  const rows = await client.all<DbRow>(
    `SELECT ${SELECTED} FROM audit_log WHERE ${where.join(' AND ')}
     ORDER BY at DESC, id DESC LIMIT ${param(query.limit)}`,
    params,
  );
  return rows.map(fromDb);
}

/** Where a cursor row sits, or undefined when it is not (or no longer) in this vault's log. */
export async function findAuditPosition(
  client: SqlClient,
  vault: string,
  id: number,
): Promise<{ at: string; id: number } | undefined> {
  const row = await client.get<{ at: string; id: number | bigint }>(
    'SELECT at, id FROM audit_log WHERE id = $1 AND vault = $2',
    [id, vault],
  );
  return row ? { at: row.at, id: Number(row.id) } : undefined;
}

/** Deletes rows older than `cutoff` (ISO time); returns how many. */
export function deleteAuditRowsOlderThan(client: SqlClient, cutoff: string): Promise<number> {
  return deleteInChunks(
    client,
    'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT $2)',
    [cutoff],
  );
}

/**
 * Keeps the newest `maxRows` rows and deletes the rest, oldest first. Idempotent: replicas
 * pruning at the same moment delete the same rows (everything up to a boundary row), never
 * twice as many.
 */
export async function deleteAuditRowsBeyond(client: SqlClient, maxRows: number): Promise<number> {
  const boundary = await client.get<{ at: string; id: number | bigint }>(
    'SELECT at, id FROM audit_log ORDER BY at DESC, id DESC LIMIT 1 OFFSET $1',
    [maxRows],
  );
  if (!boundary) return 0;
  return deleteInChunks(
    client,
    `DELETE FROM audit_log WHERE id IN (
       SELECT id FROM audit_log WHERE at < $1 OR (at = $1 AND id <= $2) LIMIT $3)`,
    [boundary.at, Number(boundary.id)],
  );
}

/** Runs `sql` (whose last placeholder is the chunk size) until it deletes a partial chunk. */
async function deleteInChunks(client: SqlClient, sql: string, params: SqlValue[]): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { changes } = await client.run(sql, [...params, DELETE_CHUNK]);
    deleted += changes;
    if (changes < DELETE_CHUNK) return deleted;
  }
}

/**
 * `/search?q=secret&page=2#x` → `/search?q=&page=`: parameter names stay (they say what was
 * asked), values and the fragment go. A "name" that does not look like one (too long, or
 * holding `=` once decoded) may be a value itself and becomes `*`.
 */
export function sanitizePath(pathWithQuery: string): string {
  const withoutFragment = pathWithQuery.split('#', 1)[0];
  const queryStart = withoutFragment.indexOf('?');
  if (queryStart < 0) return withoutFragment;
  const names = withoutFragment
    .slice(queryStart + 1)
    .split('&')
    .filter((part) => part !== '')
    .map((part) => `${safeName(part.split('=', 1)[0])}=`);
  const path = withoutFragment.slice(0, queryStart);
  return names.length === 0 ? path : `${path}?${names.join('&')}`;
}

function safeName(raw: string): string {
  // Most names are plain (`page`, `limit`): nothing to decode.
  if (!raw.includes('%') && !raw.includes('+')) return QUERY_NAME.test(raw) ? raw : '*';
  let name: string;
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return '*';
  }
  return QUERY_NAME.test(name) ? name : '*';
}

const DECISIONS: ReadonlySet<string> = new Set<AuditDecision>(['allow', 'deny', 'error']);

/** The row to store: known fields only, each bounded, so a caller's extra fields never land. */
export function toNewRow(entry: AuditEntry, now: () => Date): NewAuditRow {
  const at = entry.at instanceof Date && !Number.isNaN(entry.at.getTime()) ? entry.at : now();
  const status = entry.status;
  return {
    at: at.toISOString(),
    requestId: clip(entry.requestId, 128) ?? '',
    agent: clip(entry.agent, 200),
    vault: clip(entry.vault, 200),
    method: (clip(entry.method, 32) ?? '').toUpperCase(),
    host: (clip(entry.host, 255) ?? '').toLowerCase(),
    port: Number.isInteger(entry.port) && entry.port >= 0 && entry.port <= 65535 ? entry.port : 0,
    path: clip(sanitizePath(String(entry.path ?? '')), 2048) ?? '',
    service: clip(entry.service, 200),
    decision: DECISIONS.has(entry.decision) ? entry.decision : 'error',
    status: Number.isInteger(status) && status! >= 100 && status! <= 999 ? status! : null,
    latencyMs: count(entry.latencyMs),
    bytesIn: count(entry.bytesIn),
    bytesOut: count(entry.bytesOut),
    errorCode: clip(entry.errorCode, 64),
    event: clip(entry.event, 64),
    approvalId: clip(entry.approvalId, 64),
  };
}

function clip(value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  return String(value).slice(0, max);
}

function count(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}
