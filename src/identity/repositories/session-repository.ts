/**
 * Session tokens: minted for one vault (and optionally one agent) with an expiry. Only the
 * token's SHA-256 hash is stored. Expiry is decided by the caller's clock (`now` arguments),
 * never by the database's, so tests can move time without sleeping.
 */
import type { SqlClient } from '../../storage/types';
import type { Session } from '../types';

interface SessionRow {
  id: string;
  vault: string;
  agent_id: string | null;
  agent: string | null;
  token_hash: string;
  expires_at: string;
  created_at: string;
}

/** Sessions with their vault's and agent's names. */
const SELECT = `SELECT s.id, v.name AS vault, s.agent_id, a.name AS agent, s.token_hash,
       s.expires_at, s.created_at
FROM sessions s
JOIN vaults v ON v.id = s.vault_id
LEFT JOIN agents a ON a.id = s.agent_id`;

const toSession = (row: SessionRow): Session => ({
  id: row.id,
  vault: row.vault,
  agent: row.agent,
  expiresAt: row.expires_at,
  createdAt: row.created_at,
});

export interface SessionRecord {
  id: string;
  vaultId: string;
  agentId: string | null;
  tokenHash: string;
  expiresAt: string;
  createdAt: string;
}

export interface SessionRepository {
  insert(record: SessionRecord): Promise<void>;
  /** Sessions not expired at `now` (ISO), optionally of one vault, oldest first. */
  listLive(now: string, vaultId?: string): Promise<Session[]>;
  findByTokenHash(
    hash: string,
  ): Promise<{ session: Session; agentId: string | null; tokenHash: string } | undefined>;
  /** Deletes one session; returns its token hash, or undefined when there was none. */
  delete(id: string): Promise<string | undefined>;
  /** Removes sessions that expired before `now` (ISO); returns how many. */
  deleteExpired(now: string): Promise<number>;
}

export function createSessionRepository(client: SqlClient): SessionRepository {
  return {
    async insert(record) {
      await client.run(
        `INSERT INTO sessions (id, vault_id, agent_id, token_hash, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          record.id,
          record.vaultId,
          record.agentId,
          record.tokenHash,
          record.expiresAt,
          record.createdAt,
        ],
      );
    },

    async listLive(now, vaultId) {
      const rows =
        vaultId === undefined
          ? await client.all<SessionRow>(`${SELECT} WHERE s.expires_at > $1`, [now])
          : await client.all<SessionRow>(`${SELECT} WHERE s.expires_at > $1 AND s.vault_id = $2`, [
              now,
              vaultId,
            ]);
      // ISO timestamps sort as text; ids break ties. Sorted here for one order on both providers.
      return rows
        .map(toSession)
        .sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.id, b.id));
    },

    async findByTokenHash(hash) {
      const row = await client.get<SessionRow>(`${SELECT} WHERE s.token_hash = $1`, [hash]);
      return row && { session: toSession(row), agentId: row.agent_id, tokenHash: row.token_hash };
    },

    async delete(id) {
      const row = await client.get<{ token_hash: string }>(
        'DELETE FROM sessions WHERE id = $1 RETURNING token_hash',
        [id],
      );
      return row?.token_hash;
    },

    async deleteExpired(now) {
      return (await client.run('DELETE FROM sessions WHERE expires_at <= $1', [now])).changes;
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
