/**
 * The migration runner, shared by both providers. Each provider supplies a transaction that
 * holds a lock other processes respect (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
 * transaction lock), so several replicas starting at once each see a consistent history:
 * inside the lock the runner re-reads what is applied, applies one migration and records it.
 */
import { GatewayError, isGatewayError } from '../errors';
import type { Logger } from '../observability/types';
import type { AppliedMigration, DatabaseProviderName, Migration, SqlClient } from './types';

export interface MigrationSession extends SqlClient {
  /** Runs a script of one or more statements without parameters. */
  exec(sql: string): Promise<void>;
}

export interface MigrationDriver {
  readonly provider: DatabaseProviderName;
  /** Runs `fn` in one transaction holding the cross-process migration lock. */
  inMigrationTransaction<T>(fn: (session: MigrationSession) => Promise<T>): Promise<T>;
}

export interface MigrateOptions {
  logger: Logger;
  now: () => Date;
}

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/** Applies pending migrations in order; returns the versions this call applied. */
export async function runMigrations(
  driver: MigrationDriver,
  migrations: readonly Migration[],
  options: MigrateOptions,
): Promise<number[]> {
  validateMigrations(migrations);
  const newestKnown = migrations.length ? migrations[migrations.length - 1].version : 0;
  const sqlOf = (m: Migration): string => (driver.provider === 'Postgres' ? m.postgres : m.sqlite);

  // Creating the table inside the lock too: two PostgreSQL sessions racing on
  // CREATE TABLE IF NOT EXISTS can otherwise fail on a catalog unique index.
  const pending = await driver.inMigrationTransaction(async (session) => {
    await session.exec(CREATE_MIGRATIONS_TABLE);
    const applied = await readAppliedMigrations(session);
    checkHistory(applied, migrations, newestKnown, options.logger);
    const done = new Set(applied.map((a) => a.version));
    return migrations.filter((m) => !done.has(m.version));
  });

  const appliedNow: number[] = [];
  for (const migration of pending) {
    let current = 0;
    try {
      const didApply = await driver.inMigrationTransaction(async (session) => {
        // Another process may have applied it between our read and taking the lock.
        const applied = await readAppliedMigrations(session);
        checkHistory(applied, migrations, newestKnown, undefined);
        current = applied.length ? applied[applied.length - 1].version : 0;
        if (applied.some((a) => a.version === migration.version)) return false;
        await session.exec(sqlOf(migration));
        await session.run(
          'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [migration.version, migration.name, options.now().toISOString()],
        );
        return true;
      });
      if (didApply) {
        appliedNow.push(migration.version);
        options.logger.info('applied database migration', {
          provider: driver.provider,
          version: migration.version,
          name: migration.name,
        });
      }
    } catch (error) {
      if (isGatewayError(error)) throw error;
      // Not `instanceof Error`: a native driver's errors may come from another realm.
      const message = (error as { message?: unknown } | null)?.message;
      const reason = typeof message === 'string' ? message : String(error);
      throw new GatewayError(
        'VEC_STORAGE_MIGRATION_FAILED',
        `database migration ${migration.version} (${migration.name}) failed on ${driver.provider}: ${reason}; ` +
          `it was rolled back and the database is still at version ${current}`,
        { cause: error, context: { version: migration.version, name: migration.name } },
      );
    }
  }
  return appliedNow;
}

export async function readAppliedMigrations(client: SqlClient): Promise<AppliedMigration[]> {
  const rows = await client.all<{ version: number | string; name: string; applied_at: string }>(
    'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
  );
  return rows.map((r) => ({ version: Number(r.version), name: r.name, appliedAt: r.applied_at }));
}

/** Versions must be positive integers, strictly increasing: a programming error otherwise. */
export function validateMigrations(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new Error(
        `migration versions must be positive integers in increasing order (at ${m.version} "${m.name}")`,
      );
    }
    if (!m.name) throw new Error(`migration ${m.version} has no name`);
    previous = m.version;
  }
}

/**
 * Refuses a database migrated by a newer Vectra: running old code on a newer schema could
 * corrupt data it does not understand. Logs (once, when a logger is given) renamed versions.
 */
function checkHistory(
  applied: AppliedMigration[],
  known: readonly Migration[],
  newestKnown: number,
  logger: Logger | undefined,
): void {
  const newest = applied[applied.length - 1];
  if (newest && newest.version > newestKnown) {
    throw new GatewayError(
      'VEC_STORAGE_MIGRATION_FAILED',
      `the database schema is at version ${newest.version} (${newest.name}), newer than this Vectra knows ` +
        `(${newestKnown}); upgrade Vectra, or point it at another database`,
      { context: { databaseVersion: newest.version, knownVersion: newestKnown } },
    );
  }
  if (!logger) return;
  const names = new Map(known.map((m) => [m.version, m.name]));
  for (const a of applied) {
    if (names.get(a.version) !== a.name) {
      logger.warn('database migration recorded under another name', {
        version: a.version,
        recorded: a.name,
        expected: names.get(a.version),
      });
    }
  }
}
