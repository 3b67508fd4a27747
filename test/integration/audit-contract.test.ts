/**
 * The audit log contract, run on SQLite and on real PostgreSQL (a fresh database per test):
 * batched writes, newest-first pages with cursors, metadata only (a planted secret is found
 * nowhere: not in the database file or a pg_dump, not in what a query returns), pruning by age
 * and by count, failures that are logged and never thrown, and live rows through the cache.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { MemoryCache } from '../../src/cache/memory';
import type { AuditConfig, DatabaseConfig } from '../../src/config/schema';
import { isGatewayError } from '../../src/errors';
import { entryFromContext } from '../../src/pipeline/audit-entry';
import {
  createAuditLog,
  type AuditEntry,
  type AuditLog,
  type AuditLogDeps,
  type AuditRow,
} from '../../src/audit/audit-log';
import { insertAuditRows, toNewRow } from '../../src/audit/audit-repository';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { auditEntries } from '../helpers/audit';
import { agentPrincipal, testContext } from '../helpers/context';
import { createPostgresDatabase, describeWith } from '../helpers/services';
import { messageInbox, recordingLogger, waitFor } from '../helpers/waiting-and-processes';
import { postgresConfig, sqliteConfig } from './storage-test-helpers';
import { tempDir } from '../helpers/temp-dir';

interface Subject {
  config: DatabaseConfig;
  /** Every byte an attacker with the disk or a backup would get. */
  bytes(): Promise<Buffer>;
  drop(): Promise<void>;
}

const subjects = [
  {
    name: 'Sqlite',
    describe,
    create: async (): Promise<Subject> => {
      const dir = tempDir('vectra-audit-');
      const file = join(dir, 'vectra.db');
      return {
        config: sqliteConfig(`Data Source=${file}`),
        bytes: async () =>
          Buffer.concat(
            [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
          ),
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'Postgres',
    describe: describeWith('postgres'),
    create: async (): Promise<Subject> => {
      const database = await createPostgresDatabase();
      const url = new URL(database.url);
      return {
        config: postgresConfig(database.url),
        bytes: async () => {
          const args = ['-h', url.hostname, '-p', url.port || '5432'];
          args.push('-U', decodeURIComponent(url.username), database.name);
          const { stdout } = await promisify(execFile)('/usr/bin/pg_dump', args, {
            env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) },
            maxBuffer: 64 * 1024 * 1024,
            encoding: 'buffer',
          });
          return stdout;
        },
        drop: () => database.drop(),
      };
    },
  },
];

const T0 = Date.parse('2030-01-02T03:04:05.000Z');
const at = (offsetMs: number) => new Date(T0 + offsetMs);
const DAY = 86_400_000;

const entry = auditEntries(() => ({ at: at(0) }));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe.each(subjects)('audit log contract: $name', (subject) => {
  subject.describe(subject.name, () => {
    let target: Subject;
    let db: Database;
    let cache: MemoryCache;
    let now: Date;
    const logs: AuditLog[] = [];
    const config: AuditConfig = { RetentionDays: 30, MaxRows: 1000 };

    function audit(overrides: Partial<AuditLogDeps> = {}): AuditLog {
      const log = createAuditLog({
        db,
        cache,
        config,
        logger: recordingLogger(),
        now: () => now,
        ...overrides,
      });
      logs.push(log);
      return log;
    }

    beforeEach(async () => {
      target = await subject.create();
      db = await openDatabase(target.config);
      cache = new MemoryCache({ sweepIntervalMs: 0 });
      now = at(0);
    });

    afterEach(async () => {
      await Promise.all(logs.splice(0).map((log) => log.close()));
      await cache.close();
      await db.close();
      await target.drop();
    });

    it('hands each stored row its own id: a batch crossing every chunk size matches the table', async () => {
      const rows = Array.from({ length: 127 }, (_, i) =>
        toNewRow(
          entry({ requestId: `pair-${i}`, path: `/v1/items/${i}`, bytesOut: i, at: at(i) }),
          () => now,
        ),
      );
      const stored = await db.transaction((tx) => insertAuditRows(tx, rows));
      expect(stored).toHaveLength(127);
      expect(new Set(stored.map((r) => r.id)).size).toBe(127);
      const inTable = await db.all<{ id: number; request_id: string; bytes_out: number }>(
        'SELECT id, request_id, bytes_out FROM audit_log',
      );
      const byId = new Map(inTable.map((r) => [Number(r.id), r]));
      for (const row of stored) {
        expect(byId.get(row.id)).toMatchObject({ request_id: row.requestId });
        expect(Number(byId.get(row.id)?.bytes_out)).toBe(row.bytesOut);
      }
    });

    it('migration 3 creates audit_log with its (vault, at) and (at) indexes', async () => {
      const sql =
        db.provider === 'Sqlite'
          ? "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'"
          : "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'audit_log'";
      const names = (await db.all<{ name: string }>(sql)).map((r) => r.name);
      expect(names).toEqual(
        expect.arrayContaining(['audit_log_by_vault_time', 'audit_log_by_time']),
      );
    });

    it('returns rows newest first (by time, then id), by vault, with limit and cursors', async () => {
      const log = audit();
      // Recorded out of time order: the order returned is the requests' time, not arrival.
      for (const second of [2, 0, 4, 1, 3]) {
        log.record(entry({ at: at(second * 1000), path: `/item/${second}` }));
      }
      log.record(entry({ at: at(4000), path: '/item/4-again' })); // same time: higher id first
      log.record(entry({ vault: 'other', at: at(9000) }));
      log.record(entry({ vault: undefined, at: at(9000) })); // e.g. refused before a vault was known
      await log.flush();

      const all = await log.query({ vault: 'team' });
      expect(all.map((r) => r.path)).toEqual([
        '/item/4-again',
        '/item/4',
        '/item/3',
        '/item/2',
        '/item/1',
        '/item/0',
      ]);
      expect(all[0]).toEqual({
        id: expect.any(Number),
        at: '2030-01-02T03:04:09.000Z',
        requestId: expect.stringMatching(/^req-/),
        agent: 'bot',
        vault: 'team',
        method: 'GET',
        host: 'api.example.com',
        port: 443,
        path: '/item/4-again',
        service: 'api',
        decision: 'allow',
        status: 200,
        latencyMs: 5,
        bytesIn: 10,
        bytesOut: 20,
        errorCode: null,
        event: null,
        approvalId: null,
      });

      const first = await log.query({ vault: 'team', limit: 2 });
      expect(first.map((r) => r.path)).toEqual(['/item/4-again', '/item/4']);
      const second = await log.query({ vault: 'team', limit: 2, before: String(first[1].id) });
      expect(second.map((r) => r.path)).toEqual(['/item/3', '/item/2']);
      const third = await log.query({ vault: 'team', limit: 2, before: String(second[1].id) });
      expect(third.map((r) => r.path)).toEqual(['/item/1', '/item/0']);
      expect(await log.query({ vault: 'team', before: String(third[1].id) })).toEqual([]);

      const beforeTime = await log.query({ vault: 'team', before: at(2000).toISOString() });
      expect(beforeTime.map((r) => r.path)).toEqual(['/item/1', '/item/0']);
      const since = await log.query({ vault: 'team', since: '2030-01-02T03:04:09Z' });
      expect(since.map((r) => r.path)).toEqual(['/item/4-again', '/item/4']);
      // Rows inserted after /item/4 (the third recorded), newest first.
      const after = await log.query({ vault: 'team', after: String(all[1].id) });
      expect(after.map((r) => r.path)).toEqual(['/item/4-again', '/item/3', '/item/1']);
      expect((await log.query({ vault: 'other' })).length).toBe(1);
      // Another vault's row is no cursor here.
      const other = (await log.query({ vault: 'other' }))[0];
      expect(await log.query({ vault: 'team', before: String(other.id) })).toEqual([]);
    });

    it('caps the limit at 1000 and refuses bad options naming the field', async () => {
      const log = audit();
      for (let i = 0; i < 1005; i++) log.record(entry({ at: at(i) }));
      await log.flush();
      expect((await log.query({ vault: 'team', limit: 5000 })).length).toBe(1000);
      expect((await log.query({ vault: 'team' })).length).toBe(100);
      const cases: Array<[Parameters<AuditLog['query']>[0], string]> = [
        [{ vault: 'team', limit: 0 }, 'limit'],
        [{ vault: 'team', limit: 1.5 }, 'limit'],
        [{ vault: 'team', before: 'yesterday' }, 'before'],
        [{ vault: 'team', before: '2030-13-45' }, 'before'],
        [{ vault: 'team', since: 'x' }, 'since'],
        [{ vault: 'team', after: '-1' }, 'after'],
      ];
      for (const [options, field] of cases) {
        const error = await rejection(log.query(options));
        expect(isGatewayError(error) && error.code).toBe('VEC_REQUEST_INVALID');
        expect(isGatewayError(error) && error.context.field).toBe(field);
      }
    });

    it('stores metadata only: query values, headers and extra fields are found nowhere', async () => {
      const secret = `planted-${randomBytes(12).toString('hex')}`;
      const headerSecret = `planted-${randomBytes(12).toString('hex')}`;
      const marker = `marker-${randomBytes(6).toString('hex')}`;
      const ctx = testContext({
        requestId: marker,
        entry: 'tunnel',
        now: () => T0,
        credentials: { token: headerSecret },
        request: {
          method: 'POST',
          host: 'api.example.com',
          path: `/search?q=${secret}&page=2#${secret}`,
          headers: { authorization: `Bearer ${headerSecret}`, 'x-api-key': headerSecret },
          body: new PassThrough(),
        },
        principal: agentPrincipal('team', { agentId: 'a' }),
        vault: 'team',
      });
      ctx.injectedSecrets.push(headerSecret);
      ctx.response = {
        status: 200,
        headers: { 'set-cookie': headerSecret },
        body: new PassThrough(),
      };
      ctx.audit = { decision: 'allow', reason: headerSecret };
      const log = audit();
      log.record(entryFromContext(ctx, { at: at(0), latencyMs: 3, bytesIn: 1, bytesOut: 2 }));
      // A caller that passes more than an AuditEntry still stores only the entry's fields.
      log.record({
        ...entry({ requestId: marker, path: `/x?api_key=${secret}` }),
        headers: { authorization: headerSecret },
        body: headerSecret,
      } as AuditEntry);
      await log.flush();

      const rows = await log.query({ vault: 'team' });
      expect(rows.map((r) => r.path).sort()).toEqual(['/search?q=&page=', '/x?api_key=']);
      const output = JSON.stringify(rows);
      expect(output).toContain(marker);
      for (const planted of [secret, headerSecret]) expect(output).not.toContain(planted);

      const stored = async () => {
        const bytes = await target.bytes();
        expect(bytes.includes(Buffer.from(marker))).toBe(true); // the search sees clear text
        for (const planted of [secret, headerSecret]) {
          expect(bytes.includes(Buffer.from(planted))).toBe(false);
          expect(bytes.includes(Buffer.from(Buffer.from(planted).toString('base64')))).toBe(false);
        }
      };
      await stored();
      await log.close();
      await db.close(); // SQLite: checkpointed into the main file; search it again
      await stored();
    });

    it('writes a batch at batchSize without waiting, and a smaller one after the interval', async () => {
      const log = audit({ batchSize: 3, flushIntervalMs: 60_000 });
      for (let i = 0; i < 3; i++) log.record(entry());
      await waitFor('the full batch to be written', () => log.stats().written === 3);
      const quick = audit({ flushIntervalMs: 10 });
      quick.record(entry());
      await waitFor('the timer to write one row', () => quick.stats().written === 1);
      expect((await quick.query({ vault: 'team' })).length).toBe(4);
    });

    it('prunes rows older than RetentionDays (injected clock)', async () => {
      const log = audit();
      log.record(entry({ at: at(-31 * DAY), path: '/old' }));
      log.record(entry({ at: at(-29 * DAY), path: '/recent' }));
      log.record(entry({ at: at(-3600_000), vault: 'other', path: '/hour' }));
      await log.flush();
      expect(await log.prune()).toEqual({ deleted: 1 });
      expect((await log.query({ vault: 'team' })).map((r) => r.path)).toEqual(['/recent']);
      now = at(2 * DAY); // two days later '/recent' is 31 days old
      expect(await log.prune()).toEqual({ deleted: 1 });
      expect(await log.query({ vault: 'team' })).toEqual([]);
      expect((await log.query({ vault: 'other' })).length).toBe(1);
    });

    it('prunes beyond MaxRows, oldest first across vaults, and pruning again deletes nothing', async () => {
      const log = audit({ config: { RetentionDays: 30, MaxRows: 3 } });
      for (const [second, vault] of [
        [3, 'team'],
        [1, 'other'],
        [5, 'team'],
        [2, 'team'],
        [4, 'other'],
      ] as const) {
        log.record(entry({ at: at(second * 1000), vault, path: `/s${second}` }));
      }
      await log.flush();
      const [oldestKept] = (await log.query({ vault: 'team' })).slice(-1);
      expect(await log.prune()).toEqual({ deleted: 2 });
      expect((await log.query({ vault: 'team' })).map((r) => r.path)).toEqual(['/s5', '/s3']);
      expect((await log.query({ vault: 'other' })).map((r) => r.path)).toEqual(['/s4']);
      expect(await log.prune()).toEqual({ deleted: 0 });
      // A cursor whose row was pruned had nothing older left.
      expect(oldestKept.path).toBe('/s2');
      expect(await log.query({ vault: 'team', before: String(oldestKept.id) })).toEqual([]);
    });

    it('start() prunes in the background; close() stops it', async () => {
      const log = audit({ pruneIntervalMs: 10 });
      log.record(entry({ at: at(-40 * DAY) }));
      await log.flush();
      log.start();
      await waitFor(
        'the scheduled prune',
        async () => (await log.query({ vault: 'team' })).length === 0,
      );
      await log.close();
    });

    it('record never throws and never rejects when the database is closed; the failure is logged and counted', async () => {
      const logger = recordingLogger();
      const log = audit({ logger });
      await db.close();
      expect(() => log.record(entry())).not.toThrow();
      await expect(log.flush()).resolves.toBeUndefined();
      const failure = logger.lines.find((l) => l.message.startsWith('audit rows could not'));
      expect(failure).toMatchObject({ level: 'error', meta: { code: 'VEC_STORAGE_UNAVAILABLE' } });
      // Unavailable is transient: the row waits for a retry rather than being dropped.
      expect(log.stats()).toMatchObject({ recorded: 1, written: 0, writeFailures: 1, pending: 1 });
      await log.close();
      expect(log.stats()).toMatchObject({ dropped: 1, pending: 0 });
      expect(() => log.record(entry())).not.toThrow(); // after close: dropped, logged
      expect(() => log.record(entry())).not.toThrow(); // counted; the log line is not repeated
      expect(log.stats().dropped).toBe(3);
      expect(logger.lines.filter((l) => l.message.startsWith('audit rows dropped'))).toHaveLength(
        2,
      );
    });

    it('drops a batch after 3 failed attempts for other errors, so later rows still get through', async () => {
      const log = audit({ flushIntervalMs: 60_000 });
      await db.run('ALTER TABLE audit_log RENAME TO audit_log_away');
      log.record(entry({ path: '/lost' }));
      for (let i = 0; i < 3; i++) await log.flush();
      expect(log.stats()).toMatchObject({ writeFailures: 3, dropped: 1, pending: 0 });
      await db.run('ALTER TABLE audit_log_away RENAME TO audit_log');
      log.record(entry({ path: '/kept' }));
      await log.flush();
      expect((await log.query({ vault: 'team' })).map((r) => r.path)).toEqual(['/kept']);
    });

    it('counts on /metrics when given a registry', async () => {
      const registry = new Registry();
      const log = audit({ metrics: { registry } });
      log.record(entry());
      await log.flush();
      const text = await registry.metrics();
      expect(text).toMatch(/vectra_audit_rows_written_total 1/);
      expect(text).toMatch(/vectra_audit_rows_dropped_total 0/);
    });

    it('delivers written rows of a vault to its subscribers (memory cache)', async () => {
      const log = audit();
      const inbox = messageInbox();
      const received: AuditRow[] = [];
      const unsubscribe = await log.subscribe('team', (row) => {
        received.push(row);
        inbox.handler(row.path);
      });
      log.record(entry({ path: '/a?token=secret' }));
      log.record(entry({ vault: 'other', path: '/elsewhere' }));
      log.record(entry({ path: '/b' }));
      await log.flush();
      await inbox.received(2);
      expect(inbox.messages.sort()).toEqual(['/a?token=', '/b']);
      const stored = await log.query({ vault: 'team' });
      expect(received.sort((x, y) => x.id - y.id)).toEqual(stored.sort((x, y) => x.id - y.id));
      await unsubscribe();
      log.record(entry({ path: '/after' }));
      await log.flush();
      await new Promise((resolve) => setImmediate(resolve));
      expect(inbox.messages).toHaveLength(2);
    });
  });
});
