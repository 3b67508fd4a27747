/**
 * The identity operations behind the admin API and agent authentication: agents and their
 * vault grants, sessions, admin tokens, and who a token belongs to. One implementation
 * (./identity-service.ts) over the repositories; every method validates its input and throws
 * GatewayErrors with the codes listed in docs/errors.md (400 invalid input naming the field,
 * 404 unknown vault/agent/session/token, 409 duplicate name or last owner).
 */
import type { AdminRole, AdminTokenInfo, Agent, Minted, Principal, Session } from './types';

export interface IdentityService {
  // Agents
  listAgents(): Promise<Agent[]>;
  getAgent(name: string): Promise<Agent>;
  createAgent(input: { name: string; vaults?: string[] }): Promise<Minted<Agent>>;
  rotateAgent(name: string): Promise<Minted<Agent>>;
  deleteAgent(name: string): Promise<void>;
  grantVault(agent: string, vault: string): Promise<Agent>;
  revokeVault(agent: string, vault: string): Promise<Agent>;

  // Sessions
  mintSession(input: {
    vault: string;
    ttlSeconds?: number;
    agent?: string;
  }): Promise<Minted<Session>>;
  listSessions(vault?: string): Promise<Session[]>;
  revokeSession(id: string): Promise<void>;

  // Admin tokens
  listAdminTokens(): Promise<AdminTokenInfo[]>;
  /**
   * Mints an admin token, or stores the operator-supplied `token` (a well-formed `vec_adm_…`,
   * from Security.Admin.BootstrapToken) instead of a random one.
   */
  createAdminToken(input: {
    name: string;
    role: AdminRole;
    token?: string;
  }): Promise<Minted<AdminTokenInfo>>;
  revokeAdminToken(id: string): Promise<void>;

  /**
   * The principal for a bearer token (agent, session or admin), or undefined when the token is
   * unknown, revoked or expired. Cached in-process; rotation, deletion and revocation invalidate
   * the cache on every replica through the cache provider's publish/subscribe.
   */
  authenticate(token: string): Promise<Principal | undefined>;
}
