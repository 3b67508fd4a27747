/**
 * The storage contract. Repositories for vaults, agents and the audit log are written once
 * against `SqlClient`; the providers (SQLite, PostgreSQL) differ only below it.
 *
 * SQL is written in PostgreSQL's placeholder style (`$1`, `$2`, …). The SQLite provider maps
 * the placeholders; the dialect-specific bits (types, upserts) live in migrations.
 *
 * Values read back: integers (BIGINT and COUNT(*) included) are numbers on both providers;
 * booleans come back as 1/0 from SQLite and true/false from PostgreSQL (store flags as
 * INTEGER, or read them with Boolean()); text is text. Errors that mean "the database cannot
 * be used" are GatewayError VEC_STORAGE_UNAVAILABLE; SQL errors are the driver's own
 * (isUniqueViolation() recognises a duplicate key on both).
 */

export type SqlValue = string | number | bigint | boolean | null | Buffer;

export interface RunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

export interface SqlClient {
  all<T extends object = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]>;
  get<T extends object = Record<string, unknown>>(
    sql: string,
    params?: SqlValue[],
  ): Promise<T | undefined>;
  run(sql: string, params?: SqlValue[]): Promise<RunResult>;
}

export type DatabaseProviderName = 'Sqlite' | 'Postgres';

export interface Migration {
  /** Strictly increasing, never reused. */
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: string;
}

export interface Database extends SqlClient {
  readonly provider: DatabaseProviderName;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Inside `fn`, use only `tx` (using the Database itself, or nesting, throws at once).
   * SQLite runs one transaction at a time and queues other work behind it; PostgreSQL runs
   * them side by side under READ COMMITTED. So a read-modify-write must be one statement
   * (`UPDATE … SET n = n + 1`, `INSERT … ON CONFLICT`, `UPDATE … WHERE version = $n`), not
   * a SELECT followed by an UPDATE, to be correct on both.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /**
   * Applies pending migrations in order; each in its own transaction, recorded in
   * `schema_migrations`. Idempotent; safe when several processes call it at once.
   * Returns the versions applied by this call.
   */
  migrate(migrations?: readonly Migration[]): Promise<number[]>;
  appliedMigrations(): Promise<AppliedMigration[]>;
  /** A cheap round trip, for the health check. Throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Small key/value settings kept in the database (instance id, bootstrap markers, …). */
export interface SettingsRepository {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Sets the value only when the key is absent; returns the value that is stored afterwards. */
  setIfAbsent(key: string, value: string): Promise<string>;
  delete(key: string): Promise<boolean>;
  list(): Promise<Array<{ key: string; value: string; updatedAt: string }>>;
}
