/**
 * Vectra's schema history. Append only: a released migration is never edited or renumbered
 * (databases remember versions by number). Each one runs in a transaction, so it must not
 * contain its own BEGIN/COMMIT or statements that cannot run in one (PostgreSQL's
 * `CREATE INDEX CONCURRENTLY`, SQLite's `PRAGMA foreign_keys`).
 *
 * Portable conventions, so repositories can be written once: timestamps are ISO-8601 TEXT,
 * identifiers TEXT, counters INTEGER/BIGINT, booleans INTEGER 0/1 on SQLite and BOOLEAN on
 * PostgreSQL only if every reader copes with both.
 */
import type { Migration } from './types';

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'settings',
    sqlite: `CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);`,
    postgres: `CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);`,
  },
]);
