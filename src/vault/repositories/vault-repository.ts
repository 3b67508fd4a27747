/**
 * Vaults, written once on SqlClient for SQLite and PostgreSQL. Works on a Database or on the
 * client of a transaction. Deleting a vault cascades (foreign keys) to its credentials,
 * services, grants and sessions.
 */
import type { SqlClient } from '../../storage/types';
import type { UnmatchedHostPolicy, Vault } from '../types';

interface VaultRow {
  id: string;
  name: string;
  unmatched_hosts: UnmatchedHostPolicy;
  created_at: string;
  updated_at: string;
}

const COLUMNS = 'id, name, unmatched_hosts, created_at, updated_at';

function toVault(row: VaultRow): Vault {
  return {
    id: row.id,
    name: row.name,
    unmatchedHosts: row.unmatched_hosts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface VaultRepository {
  list(): Promise<Vault[]>;
  findByName(name: string): Promise<Vault | undefined>;
  /** The vaults among `names` that exist (unknown names are simply absent). */
  findByNames(names: readonly string[]): Promise<Vault[]>;
  insert(vault: Vault): Promise<void>;
  updateUnmatchedHosts(
    id: string,
    policy: UnmatchedHostPolicy,
    updatedAt: string,
  ): Promise<Vault | undefined>;
  /** Returns false when no vault had that id. */
  delete(id: string): Promise<boolean>;
}

export function createVaultRepository(client: SqlClient): VaultRepository {
  return {
    async list() {
      const rows = await client.all<VaultRow>(`SELECT ${COLUMNS} FROM vaults`);
      // Sorted here: SQLite and PostgreSQL collations order text differently.
      return rows.map(toVault).sort(byName);
    },

    async findByName(name) {
      const row = await client.get<VaultRow>(`SELECT ${COLUMNS} FROM vaults WHERE name = $1`, [
        name,
      ]);
      return row && toVault(row);
    },

    async findByNames(names) {
      if (names.length === 0) return [];
      const placeholders = names.map((_, i) => `$${i + 1}`).join(', ');
      const rows = await client.all<VaultRow>(
        `SELECT ${COLUMNS} FROM vaults WHERE name IN (${placeholders})`,
        [...names],
      );
      return rows.map(toVault).sort(byName);
    },

    async insert(vault) {
      await client.run(`INSERT INTO vaults (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)`, [
        vault.id,
        vault.name,
        vault.unmatchedHosts,
        vault.createdAt,
        vault.updatedAt,
      ]);
    },

    async updateUnmatchedHosts(id, policy, updatedAt) {
      const row = await client.get<VaultRow>(
        `UPDATE vaults SET unmatched_hosts = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, policy, updatedAt],
      );
      return row && toVault(row);
    },

    async delete(id) {
      return (await client.run('DELETE FROM vaults WHERE id = $1', [id])).changes > 0;
    },
  };
}

export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
