/**
 * Credentials of a vault: key → ciphertext. The repository never sees a plain value; the
 * service encrypts before `upsert` and decrypts after `ciphertexts`. Listing returns keys and
 * times only.
 */
import type { SqlClient } from '../../storage/types';
import type { CredentialInfo } from '../types';

interface CredentialRow {
  key: string;
  created_at: string;
  updated_at: string;
}

const toInfo = (row: CredentialRow): CredentialInfo => ({
  key: row.key,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export interface CredentialRepository {
  listKeys(vaultId: string): Promise<CredentialInfo[]>;
  /** Inserts or replaces; `createdAt` is kept when the key existed. */
  upsert(vaultId: string, key: string, ciphertext: string, now: string): Promise<CredentialInfo>;
  /** Returns false when the vault had no such key. */
  delete(vaultId: string, key: string): Promise<boolean>;
  /** Ciphertexts of the requested keys that exist. */
  ciphertexts(vaultId: string, keys: readonly string[]): Promise<Map<string, string>>;
}

export function createCredentialRepository(client: SqlClient): CredentialRepository {
  return {
    async listKeys(vaultId) {
      const rows = await client.all<CredentialRow>(
        'SELECT key, created_at, updated_at FROM credentials WHERE vault_id = $1',
        [vaultId],
      );
      return rows.map(toInfo).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async upsert(vaultId, key, ciphertext, now) {
      const row = await client.get<CredentialRow>(
        `INSERT INTO credentials (vault_id, key, ciphertext, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (vault_id, key)
         DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
         RETURNING key, created_at, updated_at`,
        [vaultId, key, ciphertext, now],
      );
      if (!row) throw new Error(`credential ${key} was not stored`);
      return toInfo(row);
    },

    async delete(vaultId, key) {
      const result = await client.run('DELETE FROM credentials WHERE vault_id = $1 AND key = $2', [
        vaultId,
        key,
      ]);
      return result.changes > 0;
    },

    async ciphertexts(vaultId, keys) {
      const found = new Map<string, string>();
      if (keys.length === 0) return found;
      const placeholders = keys.map((_, i) => `$${i + 2}`).join(', ');
      const rows = await client.all<{ key: string; ciphertext: string }>(
        `SELECT key, ciphertext FROM credentials WHERE vault_id = $1 AND key IN (${placeholders})`,
        [vaultId, ...keys],
      );
      for (const row of rows) found.set(row.key, row.ciphertext);
      return found;
    },
  };
}
