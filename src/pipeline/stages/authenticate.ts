/**
 * authenticate: who is calling, and in which vault. The token the entry adapter read
 * (Proxy-Authorization on the proxy; Authorization + X-Vault on `/proxy/<url>`) is consumed:
 * cleared from the context once checked, and on the reverse route the Authorization header it
 * came in is removed, so no later stage (or upstream) ever sees it.
 */
import { GatewayError } from '../../errors';
import { vaultFor, type AgentAuthenticator, type AgentPrincipal } from '../../identity/agent-auth';
import type { EntryPoint, Stage } from '../types';
import { CONTINUE } from '../types';
import { deleteHeader } from '../injection';
import { checkDependency, checkOptions } from './options';

/** No options yet; the object is there so that later ones do not change the signature. */
export type AuthenticateStageOptions = Record<string, never>;

export interface AuthenticateStageDeps {
  authenticator: Pick<AgentAuthenticator, 'authenticate'>;
}

export function createAuthenticateStage(
  options: AuthenticateStageOptions,
  deps: AuthenticateStageDeps,
): Stage {
  checkOptions('authenticate', options, []);
  checkDependency('authenticate', deps, 'authenticator', ['authenticate']);
  const { authenticator } = deps;

  return async function authenticate(ctx) {
    const { token, vault: requested } = ctx.credentials;
    ctx.credentials = {};
    if (ctx.entry === 'reverse') deleteHeader(ctx.request.headers, 'authorization');
    if (!token) return { kind: 'deny', error: missingToken(ctx.entry) };

    let principal: AgentPrincipal;
    try {
      principal = await authenticator.authenticate(token);
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'VEC_AUTH_TOKEN_REJECTED') {
        return { kind: 'deny', error: rejectedToken(ctx.entry, err) };
      }
      throw err; // a store outage is not a bad token: the runner refuses with its own code
    }
    ctx.principal = principal; // kept on a refusal below, so the audit row names the agent
    try {
      ctx.vault = vaultFor(principal, requested);
    } catch (err) {
      // VEC_AUTH_FORBIDDEN (a vault it does not hold), VEC_REQUEST_INVALID (which vault?)
      if (err instanceof GatewayError) return { kind: 'deny', error: err };
      throw err;
    }
    return CONTINUE;
  };
}

function missingToken(entry: EntryPoint): GatewayError {
  return entry === 'reverse'
    ? new GatewayError(
        'VEC_AUTH_REQUIRED',
        'Send the agent token as `Authorization: Bearer <token>` (and the vault in X-Vault).',
      )
    : new GatewayError('VEC_PROXY_AUTH_REQUIRED');
}

function rejectedToken(entry: EntryPoint, cause: GatewayError): GatewayError {
  return entry === 'reverse'
    ? cause
    : new GatewayError(
        'VEC_PROXY_AUTH_REQUIRED',
        'The proxy token is unknown, revoked or expired; get a new one from an operator.',
        { cause, context: { reason: 'token rejected' } },
      );
}
