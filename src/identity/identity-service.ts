/**
 * The IdentityService (./service-types.ts): validation and domain rules over ./repositories,
 * the same code on SQLite and PostgreSQL. Tokens are minted here and shown once; only their
 * hashes are stored. Token lookups are cached (./principal-cache.ts) beside the vault caches,
 * and every change that affects one invalidates it on every replica.
 */
import { randomUUID } from 'node:crypto';
import type { Database, SqlClient } from '../storage/types';
import { conflict, named, notFound, uniquely } from '../vault/domain-errors';
import { createVaultRepository } from '../vault/repositories/vault-repository';
import type { Vault } from '../vault/types';
import type { VaultCaches } from '../vault/vault-caches';
import { invalid, validateName } from '../vault/validation';
import { createPrincipalCache, principalTag } from './principal-cache';
import { createAdminTokenRepository } from './repositories/admin-token-repository';
import { createAgentRepository } from './repositories/agent-repository';
import { createSessionRepository } from './repositories/session-repository';
import type { IdentityService } from './service-types';
import { hashToken, mintToken, tokenKind } from './tokens';
import type { Agent } from './types';
import { validateAdminRole, validateSessionTtl } from './validation';

export interface IdentityServiceDeps {
  db: Database;
  /** The vault caches the VaultService uses: token lookups are evicted with them. */
  caches: Pick<VaultCaches, 'invalidate' | 'track' | 'cacheable'>;
  now?: () => Date;
}

export function createIdentityService(deps: IdentityServiceDeps): IdentityService {
  const { db, caches } = deps;
  const now = deps.now ?? (() => new Date());
  const iso = (): string => now().toISOString();
  const invalidate = (tag: string): Promise<void> => caches.invalidate(tag);
  const authenticate = createPrincipalCache({ db, caches, now });

  /** The vault of that name, or VEC_VAULT_NOT_FOUND. */
  const vaultNamed = (name: string, client: SqlClient = db): Promise<Vault> =>
    named('vault', 'VEC_VAULT_NOT_FOUND', name, (n) => createVaultRepository(client).findByName(n));

  const agentNamed = (name: string, client: SqlClient = db): Promise<Agent> =>
    named('agent', 'VEC_AGENT_NOT_FOUND', name, (n) => createAgentRepository(client).findByName(n));

  /** Grants or revokes the vault, evicts the agent's cached token lookups, returns the agent. */
  async function changeGrant(
    change: 'grant' | 'revoke',
    agentName: string,
    vaultName: string,
  ): Promise<Agent> {
    const agent = await agentNamed(agentName);
    const vault = await vaultNamed(vaultName);
    await createAgentRepository(db)[change](agent.id, vault.id);
    await invalidate(principalTag.agent(agent.id));
    return agentNamed(agentName);
  }

  return {
    // ---- Agents
    listAgents: () => createAgentRepository(db).list(),

    getAgent: (name) => agentNamed(name),

    async createAgent(input) {
      const name = validateName(input?.name);
      const requested = input.vaults ?? [];
      if (!Array.isArray(requested) || requested.some((v) => typeof v !== 'string')) {
        throw invalid('vaults', 'vaults must be a list of vault names');
      }
      const minted = mintToken('agent');
      const id = randomUUID();
      const agent = await uniquely(`An agent named "${name}" already exists.`, () =>
        db.transaction(async (tx) => {
          const vaults = await createVaultRepository(tx).findByNames([...new Set(requested)]);
          const missing = requested.find((v) => !vaults.some((found) => found.name === v));
          if (missing !== undefined) await vaultNamed(missing, tx); // throws the 404
          const agents = createAgentRepository(tx);
          await agents.insert({ id, name, tokenHash: minted.hash, createdAt: iso() });
          for (const vault of vaults) await agents.grant(id, vault.id);
          return (await agents.findById(id)) as Agent;
        }),
      );
      return { token: minted.token, item: agent };
    },

    async rotateAgent(name) {
      const agent = await agentNamed(name);
      const minted = mintToken('agent');
      if (!(await createAgentRepository(db).rotate(agent.id, minted.hash, iso()))) {
        await agentNamed(name);
      }
      await invalidate(principalTag.agent(agent.id));
      return { token: minted.token, item: await agentNamed(name) };
    },

    async deleteAgent(name) {
      const agent = await agentNamed(name);
      await createAgentRepository(db).delete(agent.id);
      await invalidate(principalTag.agent(agent.id));
    },

    grantVault: (agentName, vaultName) => changeGrant('grant', agentName, vaultName),

    revokeVault: (agentName, vaultName) => changeGrant('revoke', agentName, vaultName),

    // ---- Sessions
    async mintSession(input) {
      const ttlSeconds = validateSessionTtl(input?.ttlSeconds);
      const vault = await vaultNamed(input.vault);
      const agent = input.agent === undefined ? undefined : await agentNamed(input.agent);
      if (agent && !agent.vaults.includes(vault.name)) {
        throw invalid(
          'agent',
          `Agent "${agent.name}" is not granted vault "${vault.name}"; grant it first.`,
        );
      }
      const minted = mintToken('session');
      const createdAt = now();
      const session = {
        id: randomUUID(),
        vault: vault.name,
        agent: agent?.name ?? null,
        expiresAt: new Date(createdAt.getTime() + ttlSeconds * 1000).toISOString(),
        createdAt: createdAt.toISOString(),
      };
      const sessions = createSessionRepository(db);
      await sessions.deleteExpired(session.createdAt); // housekeeping: expired rows are useless
      await sessions.insert({
        id: session.id,
        vaultId: vault.id,
        agentId: agent?.id ?? null,
        tokenHash: minted.hash,
        expiresAt: session.expiresAt,
        createdAt: session.createdAt,
      });
      return { token: minted.token, item: session };
    },

    async listSessions(vaultName) {
      const vault = vaultName === undefined ? undefined : await vaultNamed(vaultName);
      return createSessionRepository(db).listLive(iso(), vault?.id);
    },

    async revokeSession(id) {
      const hash =
        typeof id === 'string' ? await createSessionRepository(db).delete(id) : undefined;
      if (hash === undefined) {
        throw notFound('VEC_SESSION_NOT_FOUND', `No session has id "${id}".`, { session: id });
      }
      await invalidate(principalTag.token(hash));
    },

    // ---- Admin tokens
    listAdminTokens: () => createAdminTokenRepository(db).list(),

    async createAdminToken(input) {
      const name = validateName(input?.name);
      const role = validateAdminRole(input.role);
      if (input.token !== undefined && tokenKind(input.token) !== 'admin') {
        throw invalid('token', 'token must be `vec_adm_` followed by 43 base64url characters');
      }
      const token = input.token ?? mintToken('admin').token;
      const item = { id: randomUUID(), name, role, createdAt: iso() };
      await uniquely(`An admin token named "${name}" already exists.`, () =>
        createAdminTokenRepository(db).insert({ ...item, tokenHash: hashToken(token) }),
      );
      // A supplied token may have been looked up (and cached as unknown) before it was stored.
      if (input.token !== undefined) await invalidate(principalTag.token(hashToken(token)));
      return { token, item };
    },

    async revokeAdminToken(id) {
      const hash = await db.transaction(async (tx) => {
        const tokens = createAdminTokenRepository(tx);
        const info = typeof id === 'string' ? await tokens.findById(id) : undefined;
        if (!info) {
          throw notFound('VEC_ADMIN_TOKEN_NOT_FOUND', `No admin token has id "${id}".`, {
            adminToken: id,
          });
        }
        // Revoking the last owner would leave nobody able to administer the gateway.
        if (info.role === 'owner' && (await tokens.countByRole('owner')) <= 1) {
          throw conflict(
            'This is the last owner token; create another owner token before revoking it.',
            { adminToken: id },
          );
        }
        return tokens.delete(id);
      });
      if (hash !== undefined) await invalidate(principalTag.token(hash));
    },

    authenticate,
  };
}
