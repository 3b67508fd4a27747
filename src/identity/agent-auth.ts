/**
 * Agent authentication (`Security.AgentAuth.Provider`). `SelfSigned`: Vectra's own agent tokens
 * (`vec_agt_…`). `Jwt`: external JWTs whose `sub` names the agent and whose vault claim names
 * the vault. Session tokens (`vec_sess_…`) are minted by an operator for one vault and are
 * accepted under both providers, so `vectra run` works either way.
 */
import type { SecurityConfig } from '../config/schema';
import { GatewayError } from '../errors';
import { createJwtVerifier } from './jwt-auth';
import type { IdentityService } from './service-types';
import { tokenKind } from './tokens';
import type { Principal } from './types';

export type AgentPrincipal = Extract<Principal, { kind: 'agent' | 'session' }>;

export interface AgentAuthenticator {
  readonly provider: 'SelfSigned' | 'Jwt';
  /** The agent or session behind `token`; throws VEC_AUTH_TOKEN_REJECTED otherwise. */
  authenticate(token: string): Promise<AgentPrincipal>;
}

export function createAgentAuthenticator(
  agentAuth: SecurityConfig['AgentAuth'],
  identity: Pick<IdentityService, 'authenticate'>,
  options: { now?: () => Date } = {},
): AgentAuthenticator {
  const jwt =
    agentAuth.Provider === 'Jwt'
      ? createJwtVerifier(agentAuth.Jwt, { now: options.now })
      : undefined;
  const rejected = () => new GatewayError('VEC_AUTH_TOKEN_REJECTED');

  return {
    provider: agentAuth.Provider,
    async authenticate(token) {
      const kind = tokenKind(token);
      if (kind === 'session' || (kind === 'agent' && !jwt)) {
        const principal = await identity.authenticate(token);
        if (principal?.kind === 'agent' || principal?.kind === 'session') return principal;
        throw rejected();
      }
      if (jwt && kind === undefined) {
        const verified = await jwt.verify(token);
        return {
          kind: 'agent',
          agentId: `jwt:${verified.agentName}`,
          agentName: verified.agentName,
          vaults: verified.vault ? [verified.vault] : [],
        };
      }
      throw rejected();
    },
  };
}

/**
 * The vault a call works in: the `X-Vault` header when given (the principal must hold it),
 * else the session's vault or the agent's only vault.
 */
export function vaultFor(principal: AgentPrincipal, requested: string | undefined): string {
  const held = principal.kind === 'session' ? [principal.vault] : principal.vaults;
  if (requested) {
    if (!held.includes(requested)) {
      throw new GatewayError(
        'VEC_AUTH_FORBIDDEN',
        `This token has no access to vault "${requested}".`,
        {
          context: { vault: requested },
        },
      );
    }
    return requested;
  }
  if (held.length === 1) return held[0];
  throw new GatewayError(
    'VEC_REQUEST_INVALID',
    held.length === 0
      ? 'This agent is granted no vault; ask an operator for a grant.'
      : `This agent holds several vaults (${held.join(', ')}); name one in the X-Vault header.`,
    { context: { field: 'X-Vault' } },
  );
}
