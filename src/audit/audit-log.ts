/**
 * The audit log: one row per proxied request (DESIGN.md, "Request flow", `forward`). Metadata
 * only: never headers or bodies, and the path keeps query parameter names without their values.
 *
 * `record()` is called on the request path, so it never throws and never waits on the
 * database: entries are buffered and written in batches, each batch in one transaction. A
 * failed write is logged and counted; rows are kept for a retry while the database is
 * unavailable (up to `maxPending`), and dropped after a few attempts for any other error, so one
 * bad row cannot block the rest. Written rows are published on the cache, per vault, so a
 * `--follow` connected to any replica sees rows written by every replica.
 */
import { Counter, type Registry } from 'prom-client';
import type { Cache } from '../cache/types';
import type { AuditConfig } from '../config/schema';
import { isGatewayError } from '../errors';
import type { Database } from '../storage/types';
import {
  deleteAuditRowsBeyond,
  deleteAuditRowsOlderThan,
  insertAuditRows,
  toNewRow,
  type AuditEntry,
  type AuditRow,
  type NewAuditRow,
} from './audit-repository';
import { queryAuditRows, type AuditQuery } from './audit-query';
import type { Logger } from '../observability/types';

export { sanitizePath } from './audit-repository';
export type { AuditDecision, AuditEntry, AuditRow } from './audit-repository';
export type { AuditQuery } from './audit-query';

export interface AuditStats {
  recorded: number;
  written: number;
  dropped: number;
  writeFailures: number;
  pending: number;
}

export interface AuditLog {
  /** Queues one row. Never throws, never waits. */
  record(entry: AuditEntry): void;
  /** Writes what is queued now; failures are logged, not thrown. */
  flush(): Promise<void>;
  /** Newest first. Invalid options throw VEC_REQUEST_INVALID naming the field. */
  query(options: AuditQuery): Promise<AuditRow[]>;
  /** Rows of `vault` as they are written, by any replica sharing the cache. */
  subscribe(vault: string, handler: (row: AuditRow) => void): Promise<() => Promise<void>>;
  /** Deletes rows older than RetentionDays, then all but the newest MaxRows. */
  prune(): Promise<{ deleted: number }>;
  /** Prunes now and then periodically (timers unref'd). */
  start(): void;
  /** Stops the timers and writes what is queued; later records are dropped (and counted). */
  close(): Promise<void>;
  stats(): AuditStats;
}

export interface AuditLogDeps {
  db: Database;
  cache: Cache;
  config: AuditConfig;
  logger: Logger;
  now?: () => Date;
  /** Registers the write/drop counters on this registry (the gateway's /metrics). */
  metrics?: { registry: Registry };
  /** Write the queue this long after its first entry (default 100 ms). */
  flushIntervalMs?: number;
  /** Write at once when this many entries are queued (default 100). */
  batchSize?: number;
  /** Entries kept in memory at most while the database cannot take them (default 10 000). */
  maxPending?: number;
  /** How often `start()` prunes (default 15 minutes). */
  pruneIntervalMs?: number;
}

const MAX_ROWS_PER_TRANSACTION = 500;
/** Attempts for a batch that failed with an error other than "database unavailable". */
const MAX_ATTEMPTS = 3;
const RETRY_DELAY_MS = { first: 1000, max: 30_000 };
const DAY_MS = 86_400_000;
const DROP_LOG_INTERVAL_MS = 10_000;
const CHANNEL_PREFIX = 'audit:';

export function auditChannel(vault: string): string {
  return `${CHANNEL_PREFIX}${vault}`;
}

interface Pending {
  row: NewAuditRow;
  attempts: number;
}

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const { db, cache, config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const flushIntervalMs = deps.flushIntervalMs ?? 100;
  const batchSize = deps.batchSize ?? 100;
  const maxPending = deps.maxPending ?? 10_000;
  const pruneIntervalMs = deps.pruneIntervalMs ?? 15 * 60_000;
  const counters = createCounters(deps.metrics?.registry);
  const pending: Pending[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;
  let pruning: Promise<{ deleted: number }> | undefined;
  let retryDelayMs = 0;
  let closed = false;

  /** Counts every lost row; logs each reason at most every DROP_LOG_INTERVAL_MS (with totals). */
  const unreported = new Map<string, { rows: number; loggedAt: number }>();
  function drop(count: number, why: string, meta: Record<string, unknown> = {}): void {
    if (count <= 0) return;
    counters.dropped.inc(count);
    const state = unreported.get(why) ?? { rows: 0, loggedAt: -Infinity };
    state.rows += count;
    unreported.set(why, state);
    const at = Date.now();
    if (at - state.loggedAt < DROP_LOG_INTERVAL_MS) return;
    logger.error(`audit rows dropped: ${why}`, { rows: state.rows, ...meta });
    unreported.set(why, { rows: 0, loggedAt: at });
  }

  function schedule(delayMs: number): void {
    if (flushTimer || closed) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, delayMs);
    flushTimer.unref();
  }

  async function writeQueued(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending.splice(0, MAX_ROWS_PER_TRANSACTION);
      try {
        const rows = await db.transaction((tx) =>
          insertAuditRows(
            tx,
            batch.map((p) => p.row),
          ),
        );
        counters.written.inc(rows.length);
        retryDelayMs = 0;
        publish(rows);
      } catch (error) {
        requeue(batch, error);
        return;
      }
    }
  }

  function requeue(batch: Pending[], error: unknown): void {
    counters.failures.inc();
    const unavailable = isGatewayError(error) && error.code === 'VEC_STORAGE_UNAVAILABLE';
    const retry = batch.filter((p) => unavailable || ++p.attempts < MAX_ATTEMPTS);
    const room = Math.max(0, maxPending - pending.length);
    pending.unshift(...retry.slice(0, room));
    retryDelayMs = Math.min(RETRY_DELAY_MS.max, retryDelayMs * 2 || RETRY_DELAY_MS.first);
    logger.error('audit rows could not be written; will retry', {
      rows: batch.length,
      retryInMs: retryDelayMs,
      error: error instanceof Error ? error.message : String(error),
      code: isGatewayError(error) ? error.code : undefined,
    });
    drop(batch.length - Math.min(retry.length, room), 'write failed and cannot be retried');
  }

  function publish(rows: AuditRow[]): void {
    const byVault = new Map<string, AuditRow[]>();
    for (const row of rows.sort((a, b) => a.id - b.id)) {
      if (row.vault === null) continue;
      const list = byVault.get(row.vault);
      if (list) list.push(row);
      else byVault.set(row.vault, [row]);
    }
    for (const [vault, vaultRows] of byVault) {
      cache.publish(auditChannel(vault), JSON.stringify(vaultRows)).catch((error: unknown) =>
        logger.warn('audit rows written but not published to live followers', {
          vault,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    }
  }

  function flush(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    draining ??= writeQueued().finally(() => {
      draining = undefined;
      if (pending.length > 0) schedule(retryDelayMs || flushIntervalMs);
    });
    return draining;
  }

  async function runPrune(): Promise<{ deleted: number }> {
    const cutoff = new Date(now().getTime() - config.RetentionDays * DAY_MS).toISOString();
    const byAge = await deleteAuditRowsOlderThan(db, cutoff);
    const byCount = await deleteAuditRowsBeyond(db, config.MaxRows);
    if (byAge + byCount > 0) {
      logger.info('audit log pruned', { byAge, byCount, retentionDays: config.RetentionDays });
    }
    return { deleted: byAge + byCount };
  }

  function prune(): Promise<{ deleted: number }> {
    pruning ??= runPrune().finally(() => (pruning = undefined));
    return pruning;
  }

  function schedulePrune(delayMs: number): void {
    pruneTimer = setTimeout(() => {
      prune()
        .catch((error: unknown) =>
          logger.error('audit log pruning failed; will try again', {
            error: error instanceof Error ? error.message : String(error),
          }),
        )
        .finally(() => {
          if (!closed) schedulePrune(pruneIntervalMs);
        });
    }, delayMs);
    pruneTimer.unref();
  }

  return {
    record(entry) {
      try {
        if (closed) return drop(1, 'the audit log is closed');
        if (pending.length >= maxPending) return drop(1, 'too many rows waiting to be written');
        pending.push({ row: toNewRow(entry, now), attempts: 0 });
        counters.recorded.inc();
        if (pending.length >= batchSize && !draining) void flush();
        else schedule(retryDelayMs || flushIntervalMs);
      } catch (error) {
        drop(1, 'invalid entry', { error: error instanceof Error ? error.message : error });
      }
    },
    flush,
    query: (options) => queryAuditRows(db, options),
    async subscribe(vault, handler) {
      return cache.subscribe(auditChannel(vault), (message) => {
        for (const row of parseRows(message, logger)) handler(row);
      });
    },
    prune,
    start() {
      if (pruneTimer || closed) return;
      schedulePrune(Math.min(pruneIntervalMs, 5000));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (pruneTimer) clearTimeout(pruneTimer);
      await flush();
      drop(pending.splice(0).length, 'still unwritten when the audit log closed');
      await pruning?.catch(() => undefined);
    },
    stats: () => ({
      recorded: counters.value('recorded'),
      written: counters.value('written'),
      dropped: counters.value('dropped'),
      writeFailures: counters.value('failures'),
      pending: pending.length,
    }),
  };
}

function parseRows(message: string, logger: Logger): AuditRow[] {
  try {
    const rows = JSON.parse(message) as unknown;
    if (Array.isArray(rows)) return rows as AuditRow[];
  } catch {
    // fall through
  }
  logger.warn('ignored a malformed audit message on the cache', { length: message.length });
  return [];
}

type CounterName = 'recorded' | 'written' | 'dropped' | 'failures';

function createCounters(registry: Registry | undefined) {
  const totals: Record<CounterName, number> = { recorded: 0, written: 0, dropped: 0, failures: 0 };
  const help: Record<CounterName, [string, string]> = {
    recorded: ['vectra_audit_rows_recorded_total', 'Audit rows queued for writing.'],
    written: ['vectra_audit_rows_written_total', 'Audit rows written to the database.'],
    dropped: ['vectra_audit_rows_dropped_total', 'Audit rows lost (closed, overflow, failures).'],
    failures: ['vectra_audit_write_failures_total', 'Failed audit batch writes.'],
  };
  const metrics = registry
    ? (Object.fromEntries(
        (Object.keys(help) as CounterName[]).map((name) => [
          name,
          new Counter({ name: help[name][0], help: help[name][1], registers: [registry] }),
        ]),
      ) as Record<CounterName, Counter>)
    : undefined;
  const counter = (name: CounterName) => ({
    inc(by = 1) {
      totals[name] += by;
      metrics?.[name].inc(by);
    },
  });
  return {
    recorded: counter('recorded'),
    written: counter('written'),
    dropped: counter('dropped'),
    failures: counter('failures'),
    value: (name: CounterName) => totals[name],
  };
}
