/**
 * Opens the configured database and brings its schema up to date. The rest of Vectra sees
 * only the `Database` contract (./types).
 */
import { GatewayError } from '../errors';
import type { DatabaseConfig } from '../config/schema';
import { silentLogger, type Logger } from '../observability/types';
import {
  parsePostgresConnectionString,
  parseSqliteConnectionString,
  redactConnectionString,
} from './connection-strings';
import { PostgresDatabase } from './postgres';
import { SqliteDatabase } from './sqlite';
import type { Database, Migration } from './types';

export interface OpenDatabaseOptions {
  logger?: Logger;
  now?: () => Date;
  /** Run pending migrations before returning (default true). */
  migrate?: boolean;
  /** The migrations to apply; the built-in list by default (tests pass their own). */
  migrations?: readonly Migration[];
}

const CONFIG_KEY = 'System.Storage.Database.Providers';

export async function openDatabase(
  config: DatabaseConfig,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  const logger = options.logger ?? silentLogger;
  const database =
    config.DefaultProvider === 'Postgres'
      ? await openPostgres(config, options)
      : openSqlite(config, options);
  if (options.migrate !== false) {
    try {
      await database.migrate(options.migrations);
    } catch (error) {
      await database.close().catch(() => undefined);
      throw error;
    }
  }
  logger.info('database ready', { provider: database.provider });
  return database;
}

function openSqlite(config: DatabaseConfig, options: OpenDatabaseOptions): SqliteDatabase {
  const connectionString = config.Providers.Sqlite.ConnectionString;
  const { filename } = parseOrConfigError(
    () => parseSqliteConnectionString(connectionString),
    'Sqlite',
  );
  options.logger?.debug('opening SQLite', { file: filename });
  return SqliteDatabase.open({ filename, logger: options.logger, now: options.now });
}

async function openPostgres(
  config: DatabaseConfig,
  options: OpenDatabaseOptions,
): Promise<PostgresDatabase> {
  const connectionString = config.Providers.Postgres.ConnectionString;
  const parsed = parseOrConfigError(
    () => parsePostgresConnectionString(connectionString),
    'Postgres',
  );
  options.logger?.debug('opening PostgreSQL', {
    connectionString: redactConnectionString(connectionString),
  });
  return PostgresDatabase.open({ ...parsed, logger: options.logger, now: options.now });
}

/** A bad connection string is a configuration problem: name the key and its variable. */
function parseOrConfigError<T>(parse: () => T, provider: 'Sqlite' | 'Postgres'): T {
  try {
    return parse();
  } catch (error) {
    const key = `${CONFIG_KEY}.${provider}.ConnectionString`;
    throw new GatewayError(
      'VEC_CONFIG_INVALID',
      `${key} (env ${key.replace(/\./g, '__')}): ${(error as Error).message}`,
      { context: { key } },
    );
  }
}

export { MIGRATIONS } from './migrations';
export { PostgresDatabase, MIGRATION_LOCK_KEY, type PostgresOptions } from './postgres';
export { SqliteDatabase, type SqliteOptions } from './sqlite';
export { createSettingsRepository, type SettingsRepositoryOptions } from './settings-repository';
export {
  parsePostgresConnectionString,
  parseSqliteConnectionString,
  redactConnectionString,
  type PostgresConnection,
  type SqliteConnection,
} from './connection-strings';
export { isUniqueViolation } from './sql-errors';
export type * from './types';
