/**
 * SQLite provider (better-sqlite3). One connection, WAL journal, foreign keys on.
 *
 * better-sqlite3 is synchronous but `transaction(fn)` takes an async `fn`, so while a
 * transaction is open other callers could run statements on the same connection — inside it.
 * Every top-level operation therefore goes through one SerialQueue: a transaction holds it
 * from BEGIN IMMEDIATE to COMMIT/ROLLBACK, and reads and writes outside it wait their turn
 * (they neither see uncommitted rows nor get rolled back with them). BEGIN IMMEDIATE takes
 * SQLite's write lock at once, which also serialises against other processes on the file.
 *
 * Open one SqliteDatabase per file per process: a second connection in the same process that
 * waits for the first one's transaction blocks the very thread that transaction needs
 * (better-sqlite3 waits synchronously, up to busy_timeout).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import SqliteDriver from 'better-sqlite3';
import { GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import {
  readAppliedMigrations,
  runMigrations,
  type MigrationDriver,
  type MigrationSession,
} from './migrate';
import { MIGRATIONS } from './migrations';
import { toSqlitePlaceholders } from './placeholders';
import { SerialQueue } from './serial-queue';
import { clientOf, guardedSession, TransactionScope } from './transaction-scope';
import type {
  AppliedMigration,
  Database,
  Migration,
  RunResult,
  SqlClient,
  SqlValue,
} from './types';

export interface SqliteOptions {
  /** Absolute path or `:memory:` (see parseSqliteConnectionString). */
  filename: string;
  /** How long a statement waits for another process's lock before failing (default 5 s). */
  busyTimeoutMs?: number;
  logger?: Logger;
  now?: () => Date;
}

const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;
const STATEMENT_CACHE_SIZE = 500;

/** SQLite result codes that mean "the database cannot be used", not "this statement is wrong". */
const UNAVAILABLE_CODES =
  /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|CORRUPT|NOTADB|PERM|AUTH)/;

type Bindable = string | number | bigint | Buffer | null;
interface PreparedStatement {
  statement: SqliteDriver.Statement<unknown[], unknown>;
  parameterCount: number;
}

export class SqliteDatabase implements Database {
  readonly provider = 'Sqlite' as const;
  private readonly queue = new SerialQueue();
  private readonly scope = new TransactionScope();
  private readonly statements = new Map<string, PreparedStatement>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly db: SqliteDriver.Database,
    private readonly filename: string,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  static open(options: SqliteOptions): SqliteDatabase {
    const logger = options.logger ?? silentLogger;
    const inMemory = options.filename === ':memory:';
    const filename = inMemory ? options.filename : resolve(options.filename);
    let db: SqliteDriver.Database;
    try {
      if (!inMemory) prepareFile(filename, logger);
      db = new SqliteDriver(filename);
      // busy_timeout first: switching to WAL needs a lock another process may hold.
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!inMemory && mode !== 'wal') {
        logger.warn('SQLite could not switch to WAL; concurrent readers will block', {
          file: filename,
          mode,
        });
      }
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
    } catch (error) {
      throw new GatewayError(
        'VEC_STORAGE_UNAVAILABLE',
        `cannot open the SQLite database ${filename}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    // SQLite gives -wal/-shm the main file's mode; tighten anyway in case they predate us.
    if (!inMemory) restrictFiles([`${filename}-wal`, `${filename}-shm`]);
    return new SqliteDatabase(db, filename, logger, options.now ?? (() => new Date()));
  }

  all<T extends object = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]> {
    return this.exclusive('all()', () => this.allNow<T>(sql, params));
  }

  get<T extends object = Record<string, unknown>>(
    sql: string,
    params?: SqlValue[],
  ): Promise<T | undefined> {
    return this.exclusive('get()', () => this.getNow<T>(sql, params));
  }

  run(sql: string, params?: SqlValue[]): Promise<RunResult> {
    return this.exclusive('run()', () => this.runNow(sql, params));
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.exclusive('transaction()', () =>
      this.transactionNow((session) => fn(clientOf(session))),
    );
  }

  migrate(migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
    const driver: MigrationDriver = {
      provider: this.provider,
      inMigrationTransaction: (fn) => this.exclusive('migrate()', () => this.transactionNow(fn)),
    };
    return runMigrations(driver, migrations, { logger: this.logger, now: this.now });
  }

  async appliedMigrations(): Promise<AppliedMigration[]> {
    const table = await this.get(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    );
    return table ? readAppliedMigrations(this) : [];
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    this.scope.assertOutside('close()');
    // Let queued work finish (new work is refused), then close: better-sqlite3 checkpoints
    // the WAL into the main file.
    this.closing ??= this.queue.drained().then(() => {
      this.statements.clear();
      this.db.close();
    });
    return this.closing;
  }

  /** Queues `job` behind any open transaction; refuses nested use and use after close. */
  private exclusive<T>(what: string, job: () => T | Promise<T>): Promise<T> {
    try {
      this.scope.assertOutside(what);
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.queue.run(() => {
      // Work queued before close() still runs; close() waits for it.
      if (!this.db.open) throw closedError();
      return job();
    });
  }

  /** Must run while holding the queue. */
  private transactionNow<T>(fn: (session: MigrationSession) => Promise<T>): Promise<T> {
    return this.scope.run(async (state) => {
      this.execNow('BEGIN IMMEDIATE');
      const raw: MigrationSession = {
        all: async <R extends object>(sql: string, params?: SqlValue[]) =>
          this.allNow<R>(sql, params),
        get: async <R extends object>(sql: string, params?: SqlValue[]) =>
          this.getNow<R>(sql, params),
        run: async (sql: string, params?: SqlValue[]) => this.runNow(sql, params),
        exec: async (sql: string) => this.execNow(sql),
      };
      try {
        const result = await fn(guardedSession(state, raw));
        state.active = false;
        this.execNow('COMMIT');
        return result;
      } catch (error) {
        state.active = false;
        // Some errors (SQLITE_FULL, SQLITE_IOERR, …) already rolled back; ROLLBACK would then fail.
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  private allNow<T>(sql: string, params: SqlValue[] = []): T[] {
    const { statement, values } = this.bind(sql, params);
    return this.wrap(() => statement.all(...values) as T[]);
  }

  private getNow<T>(sql: string, params: SqlValue[] = []): T | undefined {
    const { statement, values } = this.bind(sql, params);
    return this.wrap(() => statement.get(...values) as T | undefined);
  }

  private runNow(sql: string, params: SqlValue[] = []): RunResult {
    const { statement, values } = this.bind(sql, params);
    return { changes: this.wrap(() => statement.run(...values)).changes };
  }

  private execNow(sql: string): void {
    this.wrap(() => this.db.exec(sql));
  }

  private bind(
    sql: string,
    params: SqlValue[],
  ): { statement: PreparedStatement['statement']; values: unknown[] } {
    const prepared = this.prepare(sql);
    if (params.length !== prepared.parameterCount) {
      throw new Error(
        `SQL expects ${prepared.parameterCount} parameter(s) but got ${params.length}`,
      );
    }
    if (params.length === 0) return { statement: prepared.statement, values: [] };
    // `?NNN` placeholders are named by number in better-sqlite3: bind { 1: …, 2: … }.
    const named: Record<number, Bindable> = {};
    params.forEach((value, index) => {
      named[index + 1] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    });
    return { statement: prepared.statement, values: [named] };
  }

  /** Prepared statements (with their translated SQL) are cached per SQL text. */
  private prepare(sql: string): PreparedStatement {
    const cached = this.statements.get(sql);
    if (cached) return cached;
    const translated = toSqlitePlaceholders(sql);
    const statement = this.wrap(() => this.db.prepare<unknown[], unknown>(translated.sql));
    if (this.statements.size >= STATEMENT_CACHE_SIZE) {
      this.statements.delete(this.statements.keys().next().value as string);
    }
    const prepared = { statement, parameterCount: translated.parameterCount };
    this.statements.set(sql, prepared);
    return prepared;
  }

  /** Turns "the database is unusable" errors into VEC_STORAGE_UNAVAILABLE; SQL errors pass. */
  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
        throw new GatewayError(
          'VEC_STORAGE_UNAVAILABLE',
          `SQLite database ${this.filename}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  private assertOpen(): void {
    if (this.closing) throw closedError();
  }
}

/**
 * Creates the directory (0700, each level we create) and the file (0600) before SQLite opens
 * it, so the database is never readable by others, not even for a moment.
 */
function prepareFile(filename: string, logger: Logger): void {
  const directory = dirname(filename);
  const firstCreated = mkdirSync(directory, { recursive: true, mode: DIRECTORY_MODE });
  if (firstCreated) {
    // mkdir's mode is filtered by the umask; set it exactly on every level we created.
    const levels = relative(firstCreated, directory).split(sep).filter(Boolean);
    let path = firstCreated;
    chmodSync(path, DIRECTORY_MODE);
    for (const level of levels) {
      path = resolve(path, level);
      chmodSync(path, DIRECTORY_MODE);
    }
  } else if ((statSync(directory).mode & 0o077) !== 0) {
    // Not ours to change (it may be /tmp); the file itself stays owner-only.
    logger.warn('the database directory is accessible to other users', { directory });
  }
  try {
    closeSync(openSync(filename, 'wx', FILE_MODE));
  } catch (error) {
    // Never open (and close) an existing database file ourselves: closing any descriptor of a
    // file drops every POSIX lock this process holds on it, including SQLite's.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(filename, FILE_MODE);
}

function closedError(): GatewayError {
  return new GatewayError('VEC_STORAGE_UNAVAILABLE', 'the database has been closed');
}

function restrictFiles(paths: string[]): void {
  for (const path of paths) {
    if (existsSync(path)) chmodSync(path, FILE_MODE);
  }
}
