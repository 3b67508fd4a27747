/**
 * What only the PostgreSQL provider promises: the Npgsql form connects for real, connection
 * failures are VEC_STORAGE_UNAVAILABLE without the password, and several processes migrating
 * one database at once each apply every migration exactly once (advisory lock).
 *
 * The races are made certain, not likely: the test holds the migration lock itself, waits
 * until PostgreSQL shows both migrators queued on it, then lets go.
 */
import { Client } from 'pg';
import { isGatewayError } from '../../src/errors';
import { MIGRATION_LOCK_KEY, openDatabase } from '../../src/storage';
import { silentLogger, type Logger } from '../../src/observability/types';
import type { Database } from '../../src/storage/types';
import { createPostgresDatabase, describeWith } from '../helpers/services';
import { waitFor } from '../helpers/waiting-and-processes';
import { RACE_MIGRATIONS, postgresConfig, spawnMigrator } from './storage-test-helpers';

const ALL = RACE_MIGRATIONS.map((m) => m.version);

describeWith('postgres')('PostgreSQL provider', () => {
  let database: { url: string; name: string; drop(): Promise<void> };
  const opened: Database[] = [];

  beforeEach(async () => {
    database = await createPostgresDatabase();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    await database.drop();
  });

  /** Holds the migration lock from a third session until `release()`. */
  async function holdMigrationLock(): Promise<{
    waiting(): Promise<number>;
    release(): Promise<void>;
  }> {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return {
      async waiting() {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
           WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`,
        );
        return rows[0].n;
      },
      async release() {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        await client.end();
      },
    };
  }

  it('connects with the Npgsql form of the connection string', async () => {
    const url = new URL(database.url);
    const npgsql = `Host=${url.hostname};Port=${url.port || 5432};Database=${database.name};Username=${decodeURIComponent(url.username)};SSL Mode=Disable;Timeout=5;Maximum Pool Size=3`;
    const db = await openDatabase(postgresConfig(npgsql));
    opened.push(db);
    expect(await db.get('SELECT current_database() AS name')).toEqual({ name: database.name });
  });

  it('SSL Mode=Prefer connects (without TLS) and says so in the log', async () => {
    const url = new URL(database.url);
    const warnings: Array<{ message: string; meta?: Record<string, unknown> }> = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (message, meta) => warnings.push({ message, meta }),
      child: () => logger,
    };
    const db = await openDatabase(
      postgresConfig(
        `Host=${url.hostname};Database=${database.name};Username=${decodeURIComponent(url.username)};SSL Mode=Prefer`,
      ),
      { logger },
    );
    opened.push(db);
    await db.ping();
    expect(warnings).toEqual([
      {
        message: 'SSL Mode=Prefer connects without TLS; use Require or VerifyFull to encrypt',
        meta: { target: `${url.hostname}:5432/${database.name}` },
      },
    ]);
  });

  it('reports an unreachable server as unavailable, naming host:port/database but never the password', async () => {
    const error = await openDatabase(
      postgresConfig(
        'Host=127.0.0.1;Port=1;Database=vectra;Username=vectra;Password=TopSecret-42;Timeout=5',
      ),
    ).catch((e: unknown) => e);
    expect(isGatewayError(error) && error.code).toBe('VEC_STORAGE_UNAVAILABLE');
    const message = (error as Error).message;
    expect(message).toContain('127.0.0.1:1/vectra');
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).not.toContain('TopSecret-42');
    expect(JSON.stringify(error)).not.toContain('TopSecret-42');
  });

  it('reports a missing database as unavailable', async () => {
    const url = new URL(database.url);
    url.pathname = '/vectra_no_such_database';
    const error = await openDatabase(postgresConfig(url.toString())).catch((e: unknown) => e);
    expect(isGatewayError(error) && error.code).toBe('VEC_STORAGE_UNAVAILABLE');
    expect((error as Error).message).toMatch(/vectra_no_such_database.*does not exist/);
  });

  it('two instances (two pools) migrating at once both succeed; each migration applied once', async () => {
    const config = postgresConfig(database.url);
    const [a, b] = await Promise.all([
      openDatabase(config, { migrate: false }),
      openDatabase(config, { migrate: false }),
    ]);
    opened.push(a, b);
    const lock = await holdMigrationLock();
    let runs: Promise<number[][]>;
    try {
      runs = Promise.all([a.migrate(RACE_MIGRATIONS), b.migrate(RACE_MIGRATIONS)]);
      await waitFor(
        'both migrators to queue on the lock',
        async () => (await lock.waiting()) === 2,
      );
    } finally {
      await lock.release();
    }
    const [byA, byB] = await runs;
    expect([...byA, ...byB].sort((x, y) => x - y)).toEqual(ALL);
    expect((await a.appliedMigrations()).map((m) => m.version)).toEqual(ALL);
    expect(await a.get('SELECT COUNT(*) AS n FROM schema_migrations')).toEqual({ n: ALL.length });
  });

  it('two separate processes migrating at once both succeed; each migration applied once', async () => {
    const config = postgresConfig(database.url);
    const lock = await holdMigrationLock();
    const children = [
      spawnMigrator(config, RACE_MIGRATIONS),
      spawnMigrator(config, RACE_MIGRATIONS),
    ];
    // A child that ends while the lock is held did not wait for it (or failed): say so at once.
    const endedEarly = Promise.race(
      children.map((c) =>
        c.applied.then(() =>
          Promise.reject(new Error('a migrator finished while the lock was held')),
        ),
      ),
    );
    try {
      await Promise.race([
        endedEarly,
        waitFor('both processes to queue on the lock', async () => (await lock.waiting()) === 2),
      ]);
    } finally {
      await lock.release();
    }
    const [byA, byB] = await Promise.all(children.map((c) => c.applied));
    expect([...byA, ...byB].sort((x, y) => x - y)).toEqual(ALL);

    const db = await openDatabase(config, { migrations: RACE_MIGRATIONS });
    opened.push(db);
    expect((await db.appliedMigrations()).map((m) => m.version)).toEqual(ALL);
  });

  it('does not hold the migration lock outside migrations', async () => {
    const db = await openDatabase(postgresConfig(database.url));
    opened.push(db);
    const lock = await holdMigrationLock(); // would block if the open had left it taken
    await db.transaction((tx) =>
      tx.run("INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 'now')"),
    );
    await lock.release();
  });
});
