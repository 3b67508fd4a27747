/**
 * PostgreSQL provider (node-postgres pool). Several replicas share one database, so the
 * database does the isolation: each transaction gets its own pooled connection
 * (READ COMMITTED), and migrations serialise on an advisory lock that every Vectra process
 * takes inside its migration transactions.
 */
import {
  Pool,
  types as pgTypes,
  type CustomTypesConfig,
  type PoolClient,
  type PoolConfig,
} from 'pg';
import { GatewayError, isGatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import {
  readAppliedMigrations,
  runMigrations,
  type MigrationDriver,
  type MigrationSession,
} from './migrate';
import { MIGRATIONS } from './migrations';
import { clientOf, guardedSession, TransactionScope } from './transaction-scope';
import type {
  AppliedMigration,
  Database,
  Migration,
  RunResult,
  SqlClient,
  SqlValue,
} from './types';

export interface PostgresOptions {
  /** Pool settings, usually from parsePostgresConnectionString. */
  config: PoolConfig;
  /** `host:port/database` for messages; defaults to one built from `config`. */
  target?: string;
  /** Notes from parsing the connection string, logged once at open. */
  warnings?: readonly string[];
  logger?: Logger;
  now?: () => Date;
}

/** Key of the advisory lock held while migrating ("VECTRA" in ASCII). Never change it. */
export const MIGRATION_LOCK_KEY = 0x564543545241;

const INT8_OID = 20;

/**
 * BIGINT (and COUNT(*)) as a number, like SQLite returns it, so repositories read one type;
 * values beyond 2^53 come back as bigint rather than silently rounded.
 */
const TYPE_PARSERS: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => {
          const n = Number(value);
          return Number.isSafeInteger(n) ? n : BigInt(value);
        }
      : pgTypes.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

/** SQLSTATE classes and socket errors that mean "cannot reach the database". */
const CONNECTION_SQLSTATE = /^(08|57P0[1-3]|53300)/;
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

export class PostgresDatabase implements Database {
  readonly provider = 'Postgres' as const;
  private readonly scope = new TransactionScope();
  private closing: Promise<void> | undefined;
  /** Work started before close(): close() lets it finish before ending the pool. */
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly pool: Pool,
    private readonly target: string,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  /** Opens the pool and checks that one connection works (VEC_STORAGE_UNAVAILABLE otherwise). */
  static async open(options: PostgresOptions): Promise<PostgresDatabase> {
    const logger = options.logger ?? silentLogger;
    const config = options.config;
    const target =
      options.target ??
      `${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? ''}`;
    for (const warning of options.warnings ?? []) logger.warn(warning, { target });
    const pool = new Pool({ ...config, types: TYPE_PARSERS });
    // Without a listener, an idle connection dropped by the server would crash the process.
    pool.on('error', (error) =>
      logger.warn('an idle PostgreSQL connection failed', { target, error: error.message }),
    );
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new GatewayError(
        'VEC_STORAGE_UNAVAILABLE',
        `cannot connect to PostgreSQL at ${target}: ${describeCause(error)}`,
        {
          cause: error,
          context: { target },
        },
      );
    }
    return new PostgresDatabase(pool, target, logger, options.now ?? (() => new Date()));
  }

  all<T extends object = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]> {
    return this.track('all()', async () => (await this.query<T>(this.pool, sql, params)).rows);
  }

  get<T extends object = Record<string, unknown>>(
    sql: string,
    params?: SqlValue[],
  ): Promise<T | undefined> {
    return this.track('get()', async () => (await this.query<T>(this.pool, sql, params)).rows[0]);
  }

  run(sql: string, params?: SqlValue[]): Promise<RunResult> {
    return this.track('run()', async () => ({
      changes: (await this.query(this.pool, sql, params)).rowCount ?? 0,
    }));
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.track('transaction()', () =>
      this.inTransaction(false, (session) => fn(clientOf(session))),
    );
  }

  migrate(migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
    const driver: MigrationDriver = {
      provider: this.provider,
      inMigrationTransaction: (fn) => this.inTransaction(true, fn),
    };
    return this.track('migrate()', () =>
      runMigrations(driver, migrations, { logger: this.logger, now: this.now }),
    );
  }

  async appliedMigrations(): Promise<AppliedMigration[]> {
    const row = await this.get<{ present: boolean }>(
      "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
    );
    return row?.present ? readAppliedMigrations(this) : [];
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    this.scope.assertOutside('close()');
    this.closing ??= Promise.allSettled([...this.inFlight]).then(() => this.pool.end());
    return this.closing;
  }

  /** One transaction on a dedicated connection; with `migrationLock`, holding the advisory lock. */
  private async inTransaction<T>(
    migrationLock: boolean,
    fn: (session: MigrationSession) => Promise<T>,
  ): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.unavailable(error);
    }
    let broken: Error | undefined;
    try {
      return await this.scope.run(async (state) => {
        try {
          await this.query(client, 'BEGIN');
          // Transaction-scoped: released by COMMIT/ROLLBACK, even if this process dies.
          if (migrationLock)
            await this.query(client, 'SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
          const result = await fn(guardedSession(state, this.sessionOn(client)));
          state.active = false;
          await this.query(client, 'COMMIT');
          return result;
        } catch (error) {
          state.active = false;
          await client.query('ROLLBACK').catch((rollbackError: Error) => {
            broken = rollbackError; // do not hand a connection in an unknown state back to the pool
          });
          throw error;
        }
      });
    } finally {
      client.release(broken);
    }
  }

  private sessionOn(client: PoolClient): MigrationSession {
    return {
      all: async <T extends object>(sql: string, params?: SqlValue[]) =>
        (await this.query<T>(client, sql, params)).rows,
      get: async <T extends object>(sql: string, params?: SqlValue[]): Promise<T | undefined> =>
        (await this.query<T>(client, sql, params)).rows[0],
      run: async (sql: string, params?: SqlValue[]) => ({
        changes: (await this.query(client, sql, params)).rowCount ?? 0,
      }),
      // Without parameters node-postgres uses the simple protocol, which runs several statements.
      exec: async (sql: string) => {
        await this.query(client, sql);
      },
    };
  }

  private async query<T extends object>(on: Pool | PoolClient, sql: string, params?: SqlValue[]) {
    try {
      return params && params.length ? await on.query<T>(sql, params) : await on.query<T>(sql);
    } catch (error) {
      throw isConnectionFailure(error) ? this.unavailable(error) : error;
    }
  }

  /** Refuses nested use and use after close; otherwise runs `job`, remembered until it settles. */
  private track<T>(what: string, job: () => Promise<T>): Promise<T> {
    try {
      this.scope.assertOutside(what);
      if (this.closing)
        throw new GatewayError('VEC_STORAGE_UNAVAILABLE', 'the database has been closed');
    } catch (error) {
      return Promise.reject(error);
    }
    const running = job();
    this.inFlight.add(running);
    const forget = () => this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  private unavailable(error: unknown): GatewayError {
    if (isGatewayError(error)) return error;
    return new GatewayError(
      'VEC_STORAGE_UNAVAILABLE',
      `PostgreSQL at ${this.target} is unavailable: ${describeCause(error)}`,
      {
        cause: error,
        context: { target: this.target },
      },
    );
  }
}

/** Duck-typed, not `instanceof`: socket errors are made by Node itself, maybe in another realm. */
interface ErrorLike {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

function isConnectionFailure(error: unknown): boolean {
  const { code, message, errors } = (error ?? {}) as ErrorLike;
  if (typeof code === 'string' && (CONNECTION_SQLSTATE.test(code) || SOCKET_CODES.has(code))) {
    return true;
  }
  if (Array.isArray(errors) && errors.some(isConnectionFailure)) return true;
  return typeof message === 'string' && CONNECTION_MESSAGES.test(message);
}

/** The cause in words; Node's AggregateError (every address refused) has an empty message. */
function describeCause(error: unknown): string {
  const { code, message, errors } = (error ?? {}) as ErrorLike;
  if (typeof message === 'string' && message) return message;
  if (Array.isArray(errors) && errors.length) return errors.map(describeCause).join('; ');
  if (typeof code === 'string') return code;
  return String(error);
}
