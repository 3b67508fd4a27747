/**
 * Admin tokens (owner, approver, auditor). Only the token's SHA-256 hash is stored. `insert`
 * takes a hash, so start-up can store a bootstrap token given by the operator
 * (`Security__Admin__BootstrapToken`) the same way as a minted one.
 */
import type { SqlClient } from '../../storage/types';
import type { AdminRole, AdminTokenInfo } from '../types';

interface AdminTokenRow {
  id: string;
  name: string;
  role: AdminRole;
  token_hash: string;
  created_at: string;
}

const toInfo = (row: AdminTokenRow): AdminTokenInfo => ({
  id: row.id,
  name: row.name,
  role: row.role,
  createdAt: row.created_at,
});

export interface AdminTokenRecord extends AdminTokenInfo {
  tokenHash: string;
}

export interface AdminTokenRepository {
  list(): Promise<AdminTokenInfo[]>;
  findById(id: string): Promise<AdminTokenInfo | undefined>;
  findByTokenHash(hash: string): Promise<{ info: AdminTokenInfo; tokenHash: string } | undefined>;
  countByRole(role: AdminRole): Promise<number>;
  insert(record: AdminTokenRecord): Promise<void>;
  /** Deletes one token; returns its hash, or undefined when there was none. */
  delete(id: string): Promise<string | undefined>;
}

export function createAdminTokenRepository(client: SqlClient): AdminTokenRepository {
  return {
    async list() {
      const rows = await client.all<AdminTokenRow>(
        'SELECT id, name, role, token_hash, created_at FROM admin_tokens',
      );
      return rows.map(toInfo).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async findById(id) {
      const row = await client.get<AdminTokenRow>(
        'SELECT id, name, role, token_hash, created_at FROM admin_tokens WHERE id = $1',
        [id],
      );
      return row && toInfo(row);
    },

    async findByTokenHash(hash) {
      const row = await client.get<AdminTokenRow>(
        'SELECT id, name, role, token_hash, created_at FROM admin_tokens WHERE token_hash = $1',
        [hash],
      );
      return row && { info: toInfo(row), tokenHash: row.token_hash };
    },

    async countByRole(role) {
      const row = await client.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM admin_tokens WHERE role = $1',
        [role],
      );
      return Number(row?.n ?? 0);
    },

    async insert(record) {
      await client.run(
        'INSERT INTO admin_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
        [record.id, record.name, record.role, record.tokenHash, record.createdAt],
      );
    },

    async delete(id) {
      const row = await client.get<{ token_hash: string }>(
        'DELETE FROM admin_tokens WHERE id = $1 RETURNING token_hash',
        [id],
      );
      return row?.token_hash;
    },
  };
}
