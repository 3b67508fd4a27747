/**
 * The identity model: agents, the sessions minted for one vault, admin tokens, and the
 * principal a checked token stands for. Implemented by ./identity-service.ts over the
 * repositories in ./repositories; agents and sessions name the vaults of ../vault.
 */

export interface Agent {
  id: string;
  /** Unique, same rule as vault names. */
  name: string;
  /** Names of the vaults the agent is granted. */
  vaults: string[];
  createdAt: string;
  rotatedAt: string | null;
}

export interface Session {
  id: string;
  vault: string;
  /** The agent it was minted for, when any (CLI `vault token` mints without one). */
  agent: string | null;
  expiresAt: string;
  createdAt: string;
}

export type AdminRole = 'owner' | 'approver' | 'auditor';
export const ADMIN_ROLES: readonly AdminRole[] = ['owner', 'approver', 'auditor'];

export interface AdminTokenInfo {
  id: string;
  name: string;
  role: AdminRole;
  createdAt: string;
}

/** Returned once, at creation or rotation; the token itself is never stored or shown again. */
export interface Minted<T> {
  token: string;
  item: T;
}

/** Who is calling, once a token was checked. */
export type Principal =
  | { kind: 'agent'; agentId: string; agentName: string; vaults: string[] }
  | {
      kind: 'session';
      sessionId: string;
      agentName: string | null;
      vault: string;
      expiresAt: string;
    }
  | { kind: 'admin'; tokenId: string; name: string; role: AdminRole };

export const TOKEN_PREFIX = { agent: 'vec_agt_', session: 'vec_sess_', admin: 'vec_adm_' } as const;

/** Session TTL bounds (seconds): 5 minutes to 7 days, default 24 hours. */
export const SESSION_TTL = { min: 300, max: 7 * 24 * 3600, default: 24 * 3600 } as const;
