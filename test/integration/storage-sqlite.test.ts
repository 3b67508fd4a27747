/**
 * What only the SQLite provider promises: owner-only files from the first byte, WAL, one
 * transaction at a time inside the process, and BEGIN IMMEDIATE serialising other processes.
 */
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDriver from 'better-sqlite3';
import { isGatewayError } from '../../src/errors';
import { openDatabase, SqliteDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { RACE_MIGRATIONS, WITH_ITEMS, spawnMigrator, sqliteConfig } from './storage-test-helpers';
import { tempDir } from '../helpers/temp-dir';

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('SQLite provider', () => {
  let dir: string;
  const opened: Database[] = [];

  beforeEach(() => {
    dir = tempDir('vectra-sqlite-');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const open = async (file: string, migrations = WITH_ITEMS): Promise<Database> => {
    const db = await openDatabase(sqliteConfig(`Data Source=${file}`), { migrations });
    opened.push(db);
    return db;
  };

  it('creates every missing directory 0700 and the database, -wal and -shm files 0600', async () => {
    const file = join(dir, 'a', 'b', 'vectra.db');
    const db = await open(file);
    await db.run("INSERT INTO items (id, name) VALUES (1, 'x')");
    expect(mode(join(dir, 'a'))).toBe(0o700);
    expect(mode(join(dir, 'a', 'b'))).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(mode(`${file}-wal`)).toBe(0o600);
    expect(mode(`${file}-shm`)).toBe(0o600);
  });

  it.each([
    ['000', 0o000],
    ['277', 0o277],
  ])(
    'sets exact modes whatever the umask (%s), and tightens an existing file',
    async (_label, umask) => {
      const file = join(dir, 'vectra.db');
      writeFileSync(file, '');
      chmodSync(file, 0o644);
      const fresh = join(dir, 'fresh', 'deeper', 'vectra.db');
      const previous = process.umask(umask);
      try {
        await open(file);
        const db = await open(fresh);
        await db.run("INSERT INTO items (id, name) VALUES (1, 'x')");
      } finally {
        process.umask(previous);
      }
      expect(mode(file)).toBe(0o600);
      expect(mode(join(dir, 'fresh'))).toBe(0o700);
      expect(mode(join(dir, 'fresh', 'deeper'))).toBe(0o700);
      expect(mode(fresh)).toBe(0o600);
      expect(mode(`${fresh}-wal`)).toBe(0o600);
      expect(mode(`${fresh}-shm`)).toBe(0o600);
    },
  );

  it('leaves an existing directory alone (it may be shared) and keeps the file owner-only', async () => {
    chmodSync(dir, 0o755);
    const file = join(dir, 'vectra.db');
    await open(file);
    expect(mode(dir)).toBe(0o755);
    expect(mode(file)).toBe(0o600);
  });

  it('runs in WAL mode with foreign keys enforced and a busy timeout', async () => {
    const db = await open(join(dir, 'vectra.db'));
    expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' });
    expect(await db.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 });
    expect(await db.get('PRAGMA busy_timeout')).toEqual({ timeout: 5000 });
  });

  it('resolves a relative Data Source against the working directory', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await open('./rel/vectra.db');
    } finally {
      process.chdir(cwd);
    }
    expect(mode(join(dir, 'rel', 'vectra.db'))).toBe(0o600);
  });

  it('opens :memory: without touching the disk', async () => {
    const db = await open(':memory:');
    await db.run("INSERT INTO items (id, name) VALUES (1, 'x')");
    expect(await db.get('SELECT name FROM items')).toEqual({ name: 'x' });
  });

  it('serialises whole transactions: read-then-write across awaits never loses an update', async () => {
    const db = await open(join(dir, 'vectra.db'));
    await db.run("INSERT INTO items (id, name, n) VALUES (1, 'counter', 0)");
    await Promise.all(
      Array.from({ length: 25 }, () =>
        db.transaction(async (tx) => {
          const row = await tx.get<{ n: number }>('SELECT n FROM items WHERE id = 1');
          await new Promise(setImmediate); // give every other caller the chance to run here
          await tx.run('UPDATE items SET n = $1 WHERE id = 1', [row!.n + 1]);
        }),
      ),
    );
    expect(await db.get('SELECT n FROM items WHERE id = 1')).toEqual({ n: 25 });
  });

  it('runs a write issued during a transaction after it, in call order', async () => {
    const db = await open(join(dir, 'vectra.db'));
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tx = db.transaction(async (t) => {
      await t.run("INSERT INTO items (id, name) VALUES (1, 'tx')");
      await gate;
      events.push('transaction done');
    });
    const write = db
      .run("INSERT INTO items (id, name) VALUES (2, 'outside')")
      .then(() => events.push('write done'));
    release();
    await Promise.all([tx, write]);
    expect(events).toEqual(['transaction done', 'write done']);
  });

  it('reports a database that cannot be opened as unavailable, naming the file', async () => {
    const blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, '');
    let error: unknown;
    try {
      SqliteDatabase.open({ filename: join(blocker, 'vectra.db') });
    } catch (e) {
      error = e;
    }
    expect(isGatewayError(error) && error.code).toBe('VEC_STORAGE_UNAVAILABLE');
    expect((error as Error).message).toContain(join(blocker, 'vectra.db'));
  });

  it('lets two processes migrate one file at once: each migration applied exactly once', async () => {
    const file = join(dir, 'vectra.db');
    const config = sqliteConfig(`Data Source=${file}`);
    // Create the file (WAL) and hold SQLite's write lock until both children are ready.
    await (await openDatabase(config, { migrate: false })).close();
    const holder = new SqliteDriver(file);
    holder.exec('BEGIN IMMEDIATE');
    const children = [
      spawnMigrator(config, RACE_MIGRATIONS),
      spawnMigrator(config, RACE_MIGRATIONS),
    ];
    try {
      await Promise.all(children.map((c) => c.ready));
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }
    const [a, b] = await Promise.all(children.map((c) => c.applied));
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(RACE_MIGRATIONS.map((m) => m.version));

    const db = await open(file, RACE_MIGRATIONS);
    expect((await db.appliedMigrations()).map((m) => m.version)).toEqual(
      RACE_MIGRATIONS.map((m) => m.version),
    );
  });
});
