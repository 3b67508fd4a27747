/**
 * Services of a vault. The auth scheme is stored as JSON (it names credential keys, never
 * values); `enabled` is INTEGER 0/1 on both providers; `scheme` is `https` or `http` (a CHECK
 * holds it; any other value would match no request). Positions give declaration order: a new
 * service goes after the last one of its vault, computed in the INSERT itself. Two services
 * added at the same instant on PostgreSQL may share a position; listing breaks such ties by
 * creation time, then id. The CASTs tell PostgreSQL the parameter types in INSERT … SELECT
 * (SQLite accepts them too).
 */
import type { SqlClient, SqlValue } from '../../storage/types';
import type { AuthScheme, Service, ServiceScheme } from '../types';

interface ServiceRow {
  id: string;
  name: string;
  host_pattern: string;
  scheme: ServiceScheme;
  auth_json: string;
  enabled: number | boolean;
  position: number;
  created_at: string;
  updated_at: string;
}

const COLUMNS =
  'id, name, host_pattern, scheme, auth_json, enabled, position, created_at, updated_at';

function toService(row: ServiceRow, vault: string): Service {
  return {
    id: row.id,
    vault,
    name: row.name,
    host: row.host_pattern,
    scheme: row.scheme,
    auth: JSON.parse(row.auth_json) as AuthScheme,
    enabled: Boolean(row.enabled),
    position: Number(row.position),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** What the service layer writes; `vault` is the vault's name, echoed into the result. */
export interface ServiceRecord extends Pick<
  Service,
  'id' | 'vault' | 'name' | 'host' | 'scheme' | 'auth' | 'enabled'
> {
  vaultId: string;
}

export interface ServiceRepository {
  /** In declaration order. */
  list(vaultId: string, vault: string): Promise<Service[]>;
  find(vaultId: string, vault: string, name: string): Promise<Service | undefined>;
  insert(record: ServiceRecord, now: string): Promise<Service>;
  update(record: ServiceRecord, now: string): Promise<Service | undefined>;
  /** Returns false when the vault had no such service. */
  delete(vaultId: string, name: string): Promise<boolean>;
}

export function createServiceRepository(client: SqlClient): ServiceRepository {
  return {
    async list(vaultId, vault) {
      const rows = await client.all<ServiceRow>(
        `SELECT ${COLUMNS} FROM services WHERE vault_id = $1 ORDER BY position, created_at, id`,
        [vaultId],
      );
      return rows.map((row) => toService(row, vault));
    },

    async find(vaultId, vault, name) {
      const row = await client.get<ServiceRow>(
        `SELECT ${COLUMNS} FROM services WHERE vault_id = $1 AND name = $2`,
        [vaultId, name],
      );
      return row && toService(row, vault);
    },

    async insert(record, now) {
      const row = await client.get<ServiceRow>(
        `INSERT INTO services (id, vault_id, name, host_pattern, auth_json, enabled, position,
                               created_at, updated_at, scheme)
         SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT),
                CAST($5 AS TEXT), CAST($6 AS INTEGER), COALESCE(MAX(position), 0) + 1,
                CAST($7 AS TEXT), CAST($7 AS TEXT), CAST($8 AS TEXT)
         FROM services WHERE vault_id = CAST($2 AS TEXT)
         RETURNING ${COLUMNS}`,
        serviceParams(record, now),
      );
      if (!row) throw new Error(`service ${record.name} was not stored`);
      return toService(row, record.vault);
    },

    async update(record, now) {
      const row = await client.get<ServiceRow>(
        `UPDATE services
         SET name = $3, host_pattern = $4, auth_json = $5, enabled = $6, updated_at = $7,
             scheme = $8
         WHERE vault_id = $2 AND id = $1
         RETURNING ${COLUMNS}`,
        serviceParams(record, now),
      );
      return row && toService(row, record.vault);
    },

    async delete(vaultId, name) {
      const result = await client.run('DELETE FROM services WHERE vault_id = $1 AND name = $2', [
        vaultId,
        name,
      ]);
      return result.changes > 0;
    },
  };
}

/** $1…$8 of the INSERT and the UPDATE, in that order. */
function serviceParams(record: ServiceRecord, now: string): SqlValue[] {
  return [
    record.id,
    record.vaultId,
    record.name,
    record.host,
    JSON.stringify(record.auth),
    record.enabled ? 1 : 0,
    now,
    record.scheme,
  ];
}
