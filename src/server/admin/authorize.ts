/**
 * Who may call a route: reads `Authorization: Bearer`, slows clients that keep sending bad
 * tokens (per address and token prefix), and checks the admin role or the agent token. Without
 * an Authorization header, the web UI's session cookie stands for the admin token it was opened
 * with (../ui/session-auth.ts), under the same role checks.
 */
import type { Request } from 'express';
import { GatewayError } from '../../errors';
import type { AgentAuthenticator } from '../../identity/agent-auth';
import type { IdentityService } from '../../identity/service-types';
import type { Principal } from '../../identity/types';
import { ROLES_FOR, type Access } from './route';

export interface AuthThrottle {
  check(
    clientAddress: string,
    token: string,
  ): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }>;
  recordFailure(clientAddress: string, token: string): Promise<void>;
}

/** The web UI's sessions, as the authorizer sees them. */
export interface CookieSessions {
  /** Whether the request carries a session cookie. */
  present(req: Request): boolean;
  /**
   * The admin behind the session: throws VEC_AUTH_REQUIRED when it ended, VEC_AUTH_FORBIDDEN
   * when a state-changing call lacks the CSRF token or comes from another origin. With
   * `touch: false` the check does not count as the session's activity.
   */
  principal(req: Request, options?: { touch?: boolean }): Promise<AdminPrincipal>;
}

type AdminPrincipal = Extract<Principal, { kind: 'admin' }>;

export interface AuthorizeDeps {
  identity: Pick<IdentityService, 'authenticate'>;
  agents: AgentAuthenticator;
  throttle: AuthThrottle;
  /** When set, a session cookie is accepted in place of `Authorization: Bearer`. */
  cookieSessions?: CookieSessions;
}

export function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new GatewayError(
      'VEC_AUTH_REQUIRED',
      'The Authorization header must be `Bearer <token>`.',
    );
  }
  return match[1];
}

/** How `authorize` checks: `touch: false` for a re-check that is no activity of a UI session. */
export interface AuthorizeOptions {
  touch?: boolean;
}

export function createAuthorizer(deps: AuthorizeDeps) {
  return async function authorize(
    access: Access,
    req: Request,
    options: AuthorizeOptions = {},
  ): Promise<Principal | undefined> {
    if (access === 'none') return undefined;
    if (req.get('authorization') === undefined && deps.cookieSessions?.present(req)) {
      if (access === 'agent') {
        throw new GatewayError('VEC_AUTH_FORBIDDEN', 'A web UI session cannot act as an agent.');
      }
      return checkRole(access, await deps.cookieSessions.principal(req, options));
    }
    const token = bearerToken(req);
    if (!token) throw new GatewayError('VEC_AUTH_REQUIRED');
    const client = req.socket.remoteAddress ?? 'unknown';
    const verdict = await deps.throttle.check(client, token);
    if (!verdict.allowed) {
      throw new GatewayError('VEC_AUTH_THROTTLED', undefined, {
        context: { retryAfter: verdict.retryAfterSeconds },
      });
    }
    try {
      if (access === 'agent') return await deps.agents.authenticate(token);
      const principal = await deps.identity.authenticate(token);
      if (!principal) throw new GatewayError('VEC_AUTH_TOKEN_REJECTED');
      if (principal.kind !== 'admin') {
        throw new GatewayError(
          'VEC_AUTH_FORBIDDEN',
          'Agent and session tokens cannot use the admin API.',
        );
      }
      return checkRole(access, principal);
    } catch (err) {
      if ((err as GatewayError).code === 'VEC_AUTH_TOKEN_REJECTED') {
        await deps.throttle.recordFailure(client, token);
      }
      throw err;
    }
  };
}

function checkRole(access: Exclude<Access, 'none' | 'agent'>, principal: AdminPrincipal) {
  if (!ROLES_FOR[access].includes(principal.role)) {
    throw new GatewayError(
      'VEC_AUTH_FORBIDDEN',
      `The ${principal.role} role cannot do this; it needs ${ROLES_FOR[access].join(' or ')}.`,
    );
  }
  return principal;
}
