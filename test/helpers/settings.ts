/** The settings repository contract in memory, for CA and keyring tests without a database. */
import type { SettingsRepository } from '../../src/storage/types';

/** setIfAbsent is atomic, as the SQL statement is; `rows` shows what was stored. */
export function memorySettings(): SettingsRepository & { rows: Map<string, string> } {
  const rows = new Map<string, string>();
  return {
    rows,
    get: async (key) => rows.get(key),
    set: async (key, value) => void rows.set(key, value),
    setIfAbsent: async (key, value) => {
      if (!rows.has(key)) rows.set(key, value);
      return rows.get(key) as string;
    },
    delete: async (key) => rows.delete(key),
    list: async () => [...rows].map(([key, value]) => ({ key, value, updatedAt: '' })),
  };
}
