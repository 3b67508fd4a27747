/**
 * The Database contract, run against both providers: what passes on SQLite in development must
 * behave the same on PostgreSQL in production. PostgreSQL is real (a fresh database per test);
 * SQLite is a file in a fresh temporary directory.
 */
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/schema';
import { isGatewayError } from '../../src/errors';
import { createSettingsRepository, isUniqueViolation, openDatabase } from '../../src/storage';
import { MIGRATIONS } from '../../src/storage/migrations';
import type { Database, Migration, SqlClient } from '../../src/storage/types';
import {
  ITEMS_MIGRATION,
  LAST_VERSION,
  WITH_ITEMS,
  databaseSubjects,
  postgresConfig,
  sqliteConfig,
  steppingClock,
} from './storage-test-helpers';

const ITEMS = ITEMS_MIGRATION.version;
const ALL_VERSIONS = WITH_ITEMS.map((m) => m.version);

interface Subject {
  name: 'Sqlite' | 'Postgres';
  describe: jest.Describe;
  /** A fresh, empty database; `drop` removes it. */
  create(): Promise<{ config: DatabaseConfig; drop(): Promise<void> }>;
}

const subjects: Subject[] = databaseSubjects('vectra-storage-', join('data', 'vectra.db'));

/** Rejects with a GatewayError of `code`; returns it for further checks. */
async function gatewayError(
  promise: Promise<unknown>,
  code: string,
): Promise<Error & { context: Record<string, unknown> }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGatewayError(error))
    throw new Error(`expected GatewayError ${code}, got ${String(error)}`);
  expect(error.code).toBe(code);
  return error as Error & { context: Record<string, unknown> };
}

const count = async (client: SqlClient, table: string): Promise<number> =>
  (await client.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;

describe.each(subjects)('storage contract: $name', (subject) => {
  subject.describe(subject.name, () => {
    let config: DatabaseConfig;
    let drop: () => Promise<void>;
    let db: Database;
    const others: Database[] = [];

    /** Opens (another) instance on the same database, closed after the test. */
    const open = async (migrations: readonly Migration[] = WITH_ITEMS, now = steppingClock()) => {
      const opened = await openDatabase(config, { migrations, now });
      others.push(opened);
      return opened;
    };

    beforeEach(async () => {
      ({ config, drop } = await subject.create());
      db = await open();
    });

    afterEach(async () => {
      await Promise.all(others.splice(0).map((d) => d.close()));
      await drop();
    });

    describe('migrations', () => {
      it('are applied on open and recorded with their name and time', async () => {
        expect(db.provider).toBe(subject.name);
        const applied = await db.appliedMigrations();
        expect(applied.map((m) => m.version)).toEqual(ALL_VERSIONS);
        expect(applied[0]).toEqual({
          version: 1,
          name: 'settings',
          appliedAt: '2030-01-02T03:04:05.000Z',
        });
        expect(applied[applied.length - 1]).toEqual({
          version: ITEMS,
          name: 'test items',
          appliedAt: new Date(
            Date.parse('2030-01-02T03:04:05.000Z') + (ALL_VERSIONS.length - 1) * 1000,
          ).toISOString(),
        });
      });

      it('apply nothing when run again, from this or another instance', async () => {
        expect(await db.migrate(WITH_ITEMS)).toEqual([]);
        const second = await openDatabase(config, { migrate: false });
        others.push(second);
        expect(await second.migrate(WITH_ITEMS)).toEqual([]);
        expect((await db.appliedMigrations()).map((m) => m.version)).toEqual(ALL_VERSIONS);
      });

      it('refuse a database whose schema is newer than this code knows', async () => {
        const error = await gatewayError(db.migrate(MIGRATIONS), 'VEC_STORAGE_MIGRATION_FAILED');
        expect(error.message).toContain(
          `version ${ITEMS} (test items), newer than this Vectra knows (${LAST_VERSION})`,
        );
        expect(error.context).toMatchObject({ databaseVersion: ITEMS, knownVersion: LAST_VERSION });
        await gatewayError(openDatabase(config), 'VEC_STORAGE_MIGRATION_FAILED');
      });

      it('roll back a failing migration entirely and report its version and name', async () => {
        const broken: Migration = {
          version: ITEMS + 1,
          name: 'half done',
          sqlite: 'CREATE TABLE half_done (id INTEGER); INSERT INTO no_such_table VALUES (1);',
          postgres: 'CREATE TABLE half_done (id INTEGER); INSERT INTO no_such_table VALUES (1);',
        };
        const error = await gatewayError(
          db.migrate([...WITH_ITEMS, broken]),
          'VEC_STORAGE_MIGRATION_FAILED',
        );
        expect(error.message).toMatch(
          new RegExp(
            `migration ${ITEMS + 1} \\(half done\\) failed on ${subject.name}: .*no_such_table.*still at version ${ITEMS}$`,
          ),
        );
        expect(error.context).toMatchObject({ version: ITEMS + 1, name: 'half done' });
        // Matched on the message: better-sqlite3 makes its errors with the Error class of the
        // first jest module registry that loaded it, so `toThrow` may not see them as errors.
        await expect(db.get('SELECT COUNT(*) AS n FROM half_done')).rejects.toMatchObject({
          message: expect.stringMatching(/half_done/),
        });
        expect((await db.appliedMigrations()).map((m) => m.version)).toEqual(ALL_VERSIONS);

        const fixed = {
          ...broken,
          sqlite: 'CREATE TABLE half_done (id INTEGER);',
          postgres: 'CREATE TABLE half_done (id INTEGER);',
        };
        expect(await db.migrate([...WITH_ITEMS, fixed])).toEqual([ITEMS + 1]);
        expect(await count(db, 'half_done')).toBe(0);
      });

      it('report nothing applied on a database never migrated', async () => {
        await drop();
        ({ config, drop } = await subject.create());
        const fresh = await openDatabase(config, { migrate: false });
        others.push(fresh);
        expect(await fresh.appliedMigrations()).toEqual([]);
        expect(await fresh.migrate(MIGRATIONS)).toEqual(MIGRATIONS.map((m) => m.version));
      });
    });

    describe('transactions', () => {
      it('commit what fn did when it resolves, and return its value', async () => {
        const result = await db.transaction(async (tx) => {
          await tx.run('INSERT INTO items (id, name) VALUES ($1, $2)', [1, 'one']);
          await tx.run('INSERT INTO items (id, name) VALUES ($1, $2)', [2, 'two']);
          return count(tx, 'items');
        });
        expect(result).toBe(2);
        expect(await count(db, 'items')).toBe(2);
      });

      it('roll back everything when fn throws, and rethrow its error', async () => {
        const boom = new Error('boom');
        await expect(
          db.transaction(async (tx) => {
            await tx.run('INSERT INTO items (id, name) VALUES ($1, $2)', [1, 'one']);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await count(db, 'items')).toBe(0);
      });

      it('roll back when a statement fails, leaving the database usable', async () => {
        await db.run('INSERT INTO items (id, name) VALUES (1, $1)', ['one']);
        const error = await db
          .transaction(async (tx) => {
            await tx.run('INSERT INTO items (id, name) VALUES (2, $1)', ['two']);
            await tx.run('INSERT INTO items (id, name) VALUES (1, $1)', ['duplicate']);
          })
          .catch((e: unknown) => e);
        expect(isUniqueViolation(error)).toBe(true);
        expect(await db.all('SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }]);
      });

      it('do not interleave: a rolled-back transaction takes nothing else with it', async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const first = db.transaction(async (tx) => {
          await tx.run(
            "INSERT INTO items (id, name) VALUES (1, 'from the rolled-back transaction')",
          );
          await gate;
          throw new Error('roll back');
        });
        const second = db.transaction(async (tx) => {
          await tx.run("INSERT INTO items (id, name) VALUES (2, 'from the committed transaction')");
        });
        const write = db.run("INSERT INTO items (id, name) VALUES (3, 'outside any transaction')");
        const read = db.get('SELECT name FROM items WHERE id = 1');
        release();
        await expect(first).rejects.toThrow('roll back');
        await Promise.all([second, write]);
        expect(await read).toBeUndefined(); // never saw the uncommitted row
        expect(await db.all('SELECT id FROM items ORDER BY id')).toEqual([{ id: 2 }, { id: 3 }]);
      });

      it('keep concurrent single-statement increments exact', async () => {
        await db.run("INSERT INTO items (id, name) VALUES (1, 'counter')");
        await Promise.all(
          Array.from({ length: 20 }, () =>
            db.transaction((tx) => tx.run('UPDATE items SET n = n + 1 WHERE id = $1', [1])),
          ),
        );
        expect(await db.get('SELECT n FROM items WHERE id = 1')).toEqual({ n: 20 });
      });

      it('refuse the Database inside fn, and the tx client after the end', async () => {
        let leaked: SqlClient | undefined;
        await expect(
          db.transaction(async (tx) => {
            leaked = tx;
            await db.run("INSERT INTO items (id, name) VALUES (1, 'wrong client')");
          }),
        ).rejects.toThrow(/use the client passed to fn/);
        await expect(db.transaction(async () => db.transaction(async () => 1))).rejects.toThrow(
          /nested transactions are not supported/,
        );
        await expect(leaked!.get('SELECT 1 AS one')).rejects.toThrow(/already finished/);
        expect(await count(db, 'items')).toBe(0);
      });
    });

    describe('SQL', () => {
      it('binds repeated and out-of-order $n placeholders, and leaves $ in literals alone', async () => {
        await db.run('INSERT INTO items (name, n, id) VALUES ($2, $1, $3)', [7, 'seven', 1]);
        await db.run('INSERT INTO items (id, name, n) VALUES ($1, $2, $1)', [2, 'two']);
        expect(
          await db.all(
            'SELECT id, name, n FROM items WHERE n = $1 OR id = $1 OR name = $2 ORDER BY id',
            [2, 'seven'],
          ),
        ).toEqual([
          { id: 1, name: 'seven', n: 7 },
          { id: 2, name: 'two', n: 2 },
        ]);
        expect(
          await db.get("SELECT '$1 costs $2' AS text, name FROM items WHERE id = $1", [2]),
        ).toEqual({
          text: '$1 costs $2',
          name: 'two',
        });
      });

      it('reports rows changed, reads integers (and COUNT) as numbers, binds booleans', async () => {
        await db.run('INSERT INTO items (id, name, flag) VALUES ($1, $2, $3)', [1, 'on', true]);
        await db.run('INSERT INTO items (id, name, flag) VALUES ($1, $2, $3)', [2, 'off', false]);
        expect(await db.run('UPDATE items SET n = $1', [5])).toEqual({ changes: 2 });
        expect(await db.run('DELETE FROM items WHERE id = $1', [99])).toEqual({ changes: 0 });
        const rows = await db.all<{ id: number; flag: unknown }>(
          'SELECT id, flag FROM items ORDER BY id',
        );
        expect(rows.map((r) => Boolean(r.flag))).toEqual([true, false]);
        expect(await db.get('SELECT COUNT(*) AS n FROM items WHERE flag = $1', [true])).toEqual({
          n: 1,
        });
      });

      it('refuses a parameter count that does not match the placeholders', async () => {
        await expect(db.get('SELECT name FROM items WHERE id = $1', [])).rejects.toThrow();
        await expect(db.get('SELECT name FROM items WHERE id = $1', [1, 2])).rejects.toThrow();
      });

      it('recognises a duplicate key on both providers', async () => {
        await db.run("INSERT INTO items (id, name) VALUES (1, 'a')");
        const error = await db
          .run("INSERT INTO items (id, name) VALUES (1, 'b')")
          .catch((e: unknown) => e);
        expect(isUniqueViolation(error)).toBe(true);
        expect(isUniqueViolation(new Error('other'))).toBe(false);
      });
    });

    describe('settings repository', () => {
      it('gets, sets (overwriting), deletes and lists, with updatedAt from the clock', async () => {
        const settings = createSettingsRepository(db, {
          now: steppingClock('2031-05-06T07:08:09.000Z'),
        });
        expect(await settings.get('instance.id')).toBeUndefined();
        await settings.set('instance.id', 'abc');
        await settings.set('b.key', 'x; DROP TABLE settings; --');
        await settings.set('instance.id', 'def');
        expect(await settings.get('instance.id')).toBe('def');
        expect(await settings.list()).toEqual([
          {
            key: 'b.key',
            value: 'x; DROP TABLE settings; --',
            updatedAt: '2031-05-06T07:08:10.000Z',
          },
          { key: 'instance.id', value: 'def', updatedAt: '2031-05-06T07:08:11.000Z' },
        ]);
        expect(await settings.delete('instance.id')).toBe(true);
        expect(await settings.delete('instance.id')).toBe(false);
        expect((await settings.list()).map((s) => s.key)).toEqual(['b.key']);
      });

      it('setIfAbsent stores only the first value, even when callers race', async () => {
        const settings = createSettingsRepository(db, { now: steppingClock() });
        expect(await settings.setIfAbsent('owner', 'first')).toBe('first');
        expect(await settings.setIfAbsent('owner', 'second')).toBe('first');
        expect(await settings.list()).toEqual([
          { key: 'owner', value: 'first', updatedAt: '2030-01-02T03:04:05.000Z' },
        ]);

        const other = await open();
        const racers = await Promise.all(
          ['a', 'b', 'c', 'd'].map((value, i) =>
            createSettingsRepository(i % 2 ? other : db).setIfAbsent('race', value),
          ),
        );
        expect(new Set(racers).size).toBe(1);
        expect(await settings.get('race')).toBe(racers[0]);
      });

      it('works on a transaction client and rolls back with it', async () => {
        await expect(
          db.transaction(async (tx) => {
            const settings = createSettingsRepository(tx);
            await settings.set('k', 'v');
            expect(await settings.get('k')).toBe('v');
            throw new Error('undo');
          }),
        ).rejects.toThrow('undo');
        expect(await createSettingsRepository(db).get('k')).toBeUndefined();
      });
    });

    describe('lifecycle', () => {
      it('pings while open; after close every call fails as unavailable; close is idempotent', async () => {
        await expect(db.ping()).resolves.toBeUndefined();
        await db.close();
        await db.close();
        await gatewayError(db.ping(), 'VEC_STORAGE_UNAVAILABLE');
        await gatewayError(
          db.transaction(async () => 1),
          'VEC_STORAGE_UNAVAILABLE',
        );
        await gatewayError(db.migrate(), 'VEC_STORAGE_UNAVAILABLE');
      });

      it('lets work started before close() finish, and refuses work started after', async () => {
        const writes = [1, 2, 3].map((id) =>
          db.run('INSERT INTO items (id, name) VALUES ($1, $2)', [id, `n${id}`]),
        );
        const tx = db.transaction(async (t) =>
          t.run("INSERT INTO items (id, name) VALUES (4, 'n4')"),
        );
        const closing = db.close();
        await gatewayError(
          db.run("INSERT INTO items (id, name) VALUES (5, 'late')"),
          'VEC_STORAGE_UNAVAILABLE',
        );
        await Promise.all([...writes, tx, closing]);
        const reopened = await open();
        expect(await count(reopened, 'items')).toBe(4);
      });

      it('turns a bad connection string into a configuration error that hides the password', async () => {
        const bad =
          subject.name === 'Sqlite'
            ? sqliteConfig('Data Source=/tmp/x.db;Password=Hunter2Secret')
            : postgresConfig('Host=127.0.0.1;Port=not-a-port;Password=Hunter2Secret');
        const error = await gatewayError(openDatabase(bad), 'VEC_CONFIG_INVALID');
        expect(error.message).toContain(
          `System.Storage.Database.Providers.${subject.name}.ConnectionString`,
        );
        expect(error.message).toContain(
          `System__Storage__Database__Providers__${subject.name}__ConnectionString`,
        );
        expect(JSON.stringify(error)).not.toContain('Hunter2Secret');
        expect(error.message).not.toContain('Hunter2Secret');
      });
    });
  });
});
