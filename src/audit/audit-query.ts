/** Reading the audit log: the query options, checked, and the rows they select. */
import { GatewayError } from '../errors';
import type { Database } from '../storage/types';
import {
  findAuditPosition,
  listAuditRows,
  type AuditListQuery,
  type AuditRow,
} from './audit-repository';

export interface AuditQuery {
  vault: string;
  /** Default 100; larger values are capped at 1000. */
  limit?: number;
  /** Cursor: a row id (rows older than that row) or an ISO time (rows before it). */
  before?: string;
  /** ISO time: rows at or after it. */
  since?: string;
  /** A row id: rows inserted after it (a resumed stream's backlog). */
  after?: string;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

/** Rows of one vault, newest first; invalid options throw VEC_REQUEST_INVALID naming the field. */
export async function queryAuditRows(db: Database, options: AuditQuery): Promise<AuditRow[]> {
  const list: AuditListQuery = { vault: options.vault, limit: parseLimit(options.limit) };
  if (options.since !== undefined) list.since = parseTime(options.since, 'since');
  if (options.after !== undefined) list.afterId = parseId(options.after, 'after');
  if (options.before !== undefined) {
    if (/^\d+$/.test(options.before)) {
      list.beforeRow = await findAuditPosition(
        db,
        options.vault,
        parseId(options.before, 'before'),
      );
      // Pruning removes the oldest rows first: a cursor row that is gone had nothing older.
      if (!list.beforeRow) return [];
    } else {
      list.beforeTime = parseTime(options.before, 'before');
    }
  }
  return listAuditRows(db, list);
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VEC_REQUEST_INVALID', message, { context: { field } });
}

function parseLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_AUDIT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw invalid('limit', '`limit` must be a positive integer.');
  }
  return Math.min(limit, MAX_AUDIT_LIMIT);
}

function parseId(text: string, field: string): number {
  const id = Number(text);
  if (!/^\d{1,15}$/.test(text) || !Number.isSafeInteger(id)) {
    throw invalid(field, `\`${field}\` must be a row id.`);
  }
  return id;
}

/** An ISO-8601 time (`2030-01-02`, `2030-01-02T03:04:05Z`, …) in the stored form. */
function parseTime(text: string, field: string): string {
  const time = /^\d{4}-\d\d-\d\d/.test(text) ? new Date(text) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    const cursor = field === 'before' ? 'a row id or ' : '';
    throw invalid(
      field,
      `\`${field}\` must be ${cursor}an ISO-8601 time, e.g. 2030-01-02T03:04:05Z.`,
    );
  }
  return time.toISOString();
}
