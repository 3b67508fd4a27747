/**
 * Agents and their vault grants, written once on SqlClient for SQLite and PostgreSQL. Only the
 * SHA-256 hash of an agent's token is stored. Deleting an agent cascades to its grants and
 * sessions.
 */
import type { SqlClient } from '../../storage/types';
import type { Agent } from '../types';

interface AgentRow {
  id: string;
  name: string;
  token_hash: string;
  created_at: string;
  rotated_at: string | null;
}

const COLUMNS = 'id, name, token_hash, created_at, rotated_at';

export interface AgentRecord {
  id: string;
  name: string;
  tokenHash: string;
  createdAt: string;
}

export interface AgentRepository {
  list(): Promise<Agent[]>;
  findByName(name: string): Promise<Agent | undefined>;
  findById(id: string): Promise<Agent | undefined>;
  /** The agent whose token hashes to `hash`, with the stored hash (for a constant-time check). */
  findByTokenHash(hash: string): Promise<{ agent: Agent; tokenHash: string } | undefined>;
  insert(record: AgentRecord): Promise<void>;
  /** Replaces the token hash; returns false when no agent had that id. */
  rotate(id: string, tokenHash: string, rotatedAt: string): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Idempotent. */
  grant(agentId: string, vaultId: string): Promise<void>;
  /** Idempotent. */
  revoke(agentId: string, vaultId: string): Promise<void>;
}

export function createAgentRepository(client: SqlClient): AgentRepository {
  /** Vault names granted to agent `id` (to every agent when undefined), sorted. */
  async function grants(id?: string): Promise<Map<string, string[]>> {
    const rows = await client.all<{ agent_id: string; name: string }>(
      `SELECT g.agent_id, v.name FROM agent_vaults g JOIN vaults v ON v.id = g.vault_id
       ${id === undefined ? '' : 'WHERE g.agent_id = $1'}`,
      id === undefined ? [] : [id],
    );
    const byAgent = new Map<string, string[]>();
    for (const row of rows) {
      const names = byAgent.get(row.agent_id) ?? [];
      names.push(row.name);
      byAgent.set(row.agent_id, names);
    }
    for (const names of byAgent.values()) names.sort();
    return byAgent;
  }

  const toAgent = (row: AgentRow, vaults: string[]): Agent => ({
    id: row.id,
    name: row.name,
    vaults,
    createdAt: row.created_at,
    rotatedAt: row.rotated_at,
  });

  async function withGrants(row: AgentRow | undefined): Promise<Agent | undefined> {
    if (!row) return undefined;
    return toAgent(row, (await grants(row.id)).get(row.id) ?? []);
  }

  return {
    async list() {
      // One query after the other: a transaction's client runs one statement at a time.
      const rows = await client.all<AgentRow>(`SELECT ${COLUMNS} FROM agents`);
      const granted = await grants();
      return rows
        .map((row) => toAgent(row, granted.get(row.id) ?? []))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async findByName(name) {
      return withGrants(
        await client.get<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE name = $1`, [name]),
      );
    },

    async findById(id) {
      return withGrants(
        await client.get<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE id = $1`, [id]),
      );
    },

    async findByTokenHash(hash) {
      const row = await client.get<AgentRow>(
        `SELECT ${COLUMNS} FROM agents WHERE token_hash = $1`,
        [hash],
      );
      const agent = await withGrants(row);
      return row && agent && { agent, tokenHash: row.token_hash };
    },

    async insert(record) {
      await client.run(
        'INSERT INTO agents (id, name, token_hash, created_at, rotated_at) VALUES ($1, $2, $3, $4, NULL)',
        [record.id, record.name, record.tokenHash, record.createdAt],
      );
    },

    async rotate(id, tokenHash, rotatedAt) {
      const result = await client.run(
        'UPDATE agents SET token_hash = $2, rotated_at = $3 WHERE id = $1',
        [id, tokenHash, rotatedAt],
      );
      return result.changes > 0;
    },

    async delete(id) {
      return (await client.run('DELETE FROM agents WHERE id = $1', [id])).changes > 0;
    },

    async grant(agentId, vaultId) {
      await client.run(
        `INSERT INTO agent_vaults (agent_id, vault_id) VALUES ($1, $2)
         ON CONFLICT (agent_id, vault_id) DO NOTHING`,
        [agentId, vaultId],
      );
    },

    async revoke(agentId, vaultId) {
      await client.run('DELETE FROM agent_vaults WHERE agent_id = $1 AND vault_id = $2', [
        agentId,
        vaultId,
      ]);
    },
  };
}
