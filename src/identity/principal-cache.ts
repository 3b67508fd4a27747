/**
 * The lookup on every proxied request and admin call, "whose token is this?", cached in
 * process beside the vault caches (../vault/vault-caches.ts): this cache is tracked there, so
 * a vault's deletion and every `invalidate` (here or on another replica, through
 * `vault-invalidate`) evicts it too. Entries live 30 s, answers "unknown token" 5 s; a
 * session's expiry is checked on every call, cached or not.
 *
 * Tags here: `token:<sha256>` (a rotated, revoked or deleted token), `agent:<id>` (an agent's
 * token or grants changed, or it was deleted: its sessions go too), and the vault tags of the
 * vaults a principal names (`vault:<name>`).
 */
import type { SqlClient } from '../storage/types';
import {
  CACHE_TTL_MS,
  InvalidatingCache,
  invalidationTag,
  type VaultCaches,
} from '../vault/vault-caches';
import { createAdminTokenRepository } from './repositories/admin-token-repository';
import { createAgentRepository } from './repositories/agent-repository';
import { createSessionRepository } from './repositories/session-repository';
import { hashToken, hashesEqual, tokenKind, type TokenKind } from './tokens';
import type { Principal } from './types';

export const NEGATIVE_CACHE_TTL_MS = 5_000;
export const MAX_TOKEN_ENTRIES = 10_000;

export const principalTag = {
  token: (hash: string) => `token:${hash}`,
  agent: (id: string) => `agent:${id}`,
} as const;

export interface PrincipalCacheOptions {
  db: SqlClient;
  caches: Pick<VaultCaches, 'track' | 'cacheable'>;
  now: () => Date;
}

/** The principal for `token`, cached; undefined when unknown, revoked or expired. */
export type Authenticate = (token: string) => Promise<Principal | undefined>;

export function createPrincipalCache(options: PrincipalCacheOptions): Authenticate {
  const { db, caches, now } = options;
  const clock = (): number => now().getTime();
  const principals = new InvalidatingCache<Principal | null>(clock, MAX_TOKEN_ENTRIES);
  caches.track(principals);

  return async function authenticate(token) {
    if (typeof token !== 'string') return undefined;
    const kind = tokenKind(token);
    if (kind === undefined) return undefined; // malformed: not worth a lookup or an entry
    const hash = hashToken(token);
    const cacheable = await caches.cacheable();
    let principal = cacheable ? principals.get(hash) : undefined;
    if (principal === undefined) {
      const snapshot = principals.snapshot();
      const found = await lookUpPrincipal(db, kind, hash);
      principal = found?.principal ?? null;
      if (cacheable) {
        const tags = [principalTag.token(hash), ...(found?.tags ?? [])];
        const ttl = found ? CACHE_TTL_MS : NEGATIVE_CACHE_TTL_MS;
        principals.set(hash, principal, ttl, tags, snapshot);
      }
    }
    // Checked on every use, cached or not: a session expires at its time, not at the cache's.
    if (principal?.kind === 'session' && Date.parse(principal.expiresAt) <= clock()) {
      return undefined;
    }
    return principal ?? undefined;
  };
}

/** The principal whose stored token hash equals `hash`, with the tags that invalidate it. */
async function lookUpPrincipal(
  db: SqlClient,
  kind: TokenKind,
  hash: string,
): Promise<{ principal: Principal; tags: string[] } | undefined> {
  switch (kind) {
    case 'agent': {
      const found = await createAgentRepository(db).findByTokenHash(hash);
      if (!found || !hashesEqual(found.tokenHash, hash)) return undefined;
      const { agent } = found;
      return {
        principal: frozen({
          kind: 'agent',
          agentId: agent.id,
          agentName: agent.name,
          vaults: Object.freeze([...agent.vaults]) as string[],
        }),
        tags: [principalTag.agent(agent.id), ...agent.vaults.map(invalidationTag.vault)],
      };
    }
    case 'session': {
      const found = await createSessionRepository(db).findByTokenHash(hash);
      if (!found || !hashesEqual(found.tokenHash, hash)) return undefined;
      const { session, agentId } = found;
      return {
        principal: frozen({
          kind: 'session',
          sessionId: session.id,
          agentName: session.agent,
          vault: session.vault,
          expiresAt: session.expiresAt,
        }),
        tags: [
          invalidationTag.vault(session.vault),
          ...(agentId ? [principalTag.agent(agentId)] : []),
        ],
      };
    }
    case 'admin': {
      const found = await createAdminTokenRepository(db).findByTokenHash(hash);
      if (!found || !hashesEqual(found.tokenHash, hash)) return undefined;
      const { info } = found;
      return {
        principal: frozen({ kind: 'admin', tokenId: info.id, name: info.name, role: info.role }),
        tags: [],
      };
    }
  }
}

/** Cached principals are shared between callers: none of them may change one. */
function frozen(principal: Principal): Principal {
  return Object.freeze(principal);
}
