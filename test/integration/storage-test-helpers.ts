/**
 * Helpers for the storage suites: configs for both providers, test migrations, a clock, a
 * bounded condition wait (never a fixed sleep) and a child process that runs migrate() from
 * the built dist/ — a second real process against the same database.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/schema';
import { MIGRATIONS } from '../../src/storage/migrations';
import type { Database, Migration } from '../../src/storage/types';
import { isGatewayError } from '../../src/errors';
import { createPostgresDatabase, describeWith } from '../helpers/services';
import { tempDir } from '../helpers/temp-dir';

export const REPO_ROOT = join(__dirname, '..', '..');

export function sqliteConfig(connectionString: string): DatabaseConfig {
  return {
    DefaultProvider: 'Sqlite',
    Providers: {
      Sqlite: { ConnectionString: connectionString },
      Postgres: { ConnectionString: '' },
    },
  };
}

export function postgresConfig(connectionString: string): DatabaseConfig {
  return {
    DefaultProvider: 'Postgres',
    Providers: {
      Sqlite: { ConnectionString: '' },
      Postgres: { ConnectionString: connectionString },
    },
  };
}

/** The newest real migration; test migrations come after it. */
export const LAST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** A table for the tests, in each dialect (booleans differ, as they would in real migrations). */
export const ITEMS_MIGRATION: Migration = {
  version: LAST_VERSION + 1,
  name: 'test items',
  sqlite:
    'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, flag INTEGER NOT NULL DEFAULT 0);',
  postgres:
    'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, flag BOOLEAN NOT NULL DEFAULT false);',
};

export const WITH_ITEMS: readonly Migration[] = [...MIGRATIONS, ITEMS_MIGRATION];

/** Several small migrations, so concurrent runners have something to race on. */
export const RACE_MIGRATIONS: readonly Migration[] = [
  ...MIGRATIONS,
  ...[1, 2, 3, 4].map((step) => {
    const version = LAST_VERSION + step;
    const sql = `CREATE TABLE race_${version} (id INTEGER PRIMARY KEY); INSERT INTO race_${version} (id) VALUES (1);`;
    return { version, name: `race ${version}`, sqlite: sql, postgres: sql };
  }),
];

/** A clock that moves one second each time it is read. */
export function steppingClock(start = '2030-01-02T03:04:05.000Z'): () => Date {
  let t = Date.parse(start);
  return () => {
    const now = new Date(t);
    t += 1000;
    return now;
  };
}

/** Opens the database with dist/, says "ready", migrates, prints the versions it applied. */
const MIGRATOR = `
const { openDatabase } = require('./dist/storage');
const config = JSON.parse(process.env.VECTRA_TEST_DB_CONFIG);
const migrations = JSON.parse(process.env.VECTRA_TEST_MIGRATIONS);
openDatabase(config, { migrate: false })
  .then(async (db) => {
    process.stdout.write('ready\\n');
    try {
      process.stdout.write('applied ' + JSON.stringify(await db.migrate(migrations)) + '\\n');
    } finally {
      await db.close();
    }
  })
  .catch((error) => {
    process.stderr.write(String(error && error.message));
    process.exitCode = 1;
  });
`;

export interface ChildMigrator {
  /** Resolves once the child has opened the database and is about to migrate. */
  ready: Promise<void>;
  /** The versions the child applied; rejects with its stderr when it fails. */
  applied: Promise<number[]>;
}

export function spawnMigrator(
  config: DatabaseConfig,
  migrations: readonly Migration[],
): ChildMigrator {
  const child = spawn(process.execPath, ['-e', MIGRATOR], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      VECTRA_TEST_DB_CONFIG: JSON.stringify(config),
      VECTRA_TEST_MIGRATIONS: JSON.stringify(migrations),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const applied = new Promise<number[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      markReady(); // never leave a waiter hanging; `applied` carries the failure
      const line = /applied (\[.*\])/.exec(stdout);
      if (code === 0 && line) resolve(JSON.parse(line[1]) as number[]);
      else reject(new Error(`migrator exited with ${code}: ${stderr || stdout}`));
    });
  });
  return { ready, applied };
}

/**
 * Both providers, each a fresh database per call: SQLite at `sqliteFile` in a temp dir, real
 * PostgreSQL.
 */
export function databaseSubjects(tempPrefix: string, sqliteFile = 'vectra.db') {
  return [
    {
      name: 'Sqlite' as const,
      describe,
      create: async () => {
        const dir = tempDir(tempPrefix);
        return {
          config: sqliteConfig(`Data Source=${join(dir, sqliteFile)}`),
          drop: async () => rmSync(dir, { recursive: true, force: true }),
        };
      },
    },
    {
      name: 'Postgres' as const,
      describe: describeWith('postgres'),
      create: async () => {
        const database = await createPostgresDatabase();
        return { config: postgresConfig(database.url), drop: () => database.drop() };
      },
    },
  ];
}

/** Awaits a rejection with GatewayError `code` (and `field` in its context, when given). */
export async function rejects(promise: Promise<unknown>, code: string, field?: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGatewayError(error)) throw new Error(`expected ${code}, got ${String(error)}`);
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.context.field).toBe(field);
  return error;
}

/** `db` counting the statements run through it (outside transactions), to prove a cache hit. */
export function counted(db: Database): { db: Database; statements: () => number } {
  let statements = 0;
  const proxy = new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'get' || property === 'all' || property === 'run') statements += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { db: proxy, statements: () => statements };
}
