/**
 * Settings, written once on SqlClient: the same SQL runs on SQLite and PostgreSQL (both have
 * `INSERT … ON CONFLICT … DO UPDATE` with `excluded`, and `RETURNING`). Works on a Database or
 * on the client of a transaction.
 */
import type { SettingsRepository, SqlClient } from './types';

export interface SettingsRepositoryOptions {
  /** Clock for `updated_at`; injected so tests do not depend on the time. */
  now?: () => Date;
}

interface SettingRow {
  key: string;
  value: string;
  updated_at: string;
}

export function createSettingsRepository(
  client: SqlClient,
  options: SettingsRepositoryOptions = {},
): SettingsRepository {
  const now = options.now ?? (() => new Date());
  return {
    async get(key) {
      const row = await client.get<{ value: string }>('SELECT value FROM settings WHERE key = $1', [
        key,
      ]);
      return row?.value;
    },

    async set(key, value) {
      await client.run(
        `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [key, value, now().toISOString()],
      );
    },

    async setIfAbsent(key, value) {
      // One statement, so two callers racing for the same key agree on the winner. The no-op
      // update (instead of DO NOTHING) makes RETURNING yield the row that was already there.
      const row = await client.get<{ value: string }>(
        `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = settings.value
         RETURNING value`,
        [key, value, now().toISOString()],
      );
      if (!row) throw new Error(`setting ${key} was not stored`);
      return row.value;
    },

    async delete(key) {
      const result = await client.run('DELETE FROM settings WHERE key = $1', [key]);
      return result.changes > 0;
    },

    async list() {
      const rows = await client.all<SettingRow>('SELECT key, value, updated_at FROM settings');
      // Sorted here: SQLite and PostgreSQL collations order text differently.
      return rows
        .map((r) => ({ key: r.key, value: r.value, updatedAt: r.updated_at }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
  };
}
