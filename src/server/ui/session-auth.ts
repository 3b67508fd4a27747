/**
 * The web UI's session cookie on the wire: its name and flags, reading it back, and the checks a
 * cookie-authenticated call must pass. A state-changing call (anything but GET, HEAD, OPTIONS)
 * needs the session's CSRF token in `X-CSRF-Token` and must come from the page's own origin
 * (`Origin` and `Sec-Fetch-Site`, when the browser sends them); `SameSite=Strict` keeps the
 * cookie off cross-site requests in the first place.
 */
import type { Request, Response } from 'express';
import { GatewayError } from '../../errors';
import { hashesEqual } from '../../identity/tokens';
import type { Principal } from '../../identity/types';
import type { CookieSessions } from '../admin/authorize';
import type { UiSession, UiSessionStore } from './session-store';

/** Over HTTPS the `__Host-` prefix makes browsers insist on Secure, Path=/ and no Domain. */
export const COOKIE_NAME = 'vectra_ui_session';
export const SECURE_COOKIE_NAME = `__Host-${COOKIE_NAME}`;
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The session id from the request's cookies, if any. Over HTTPS only the `__Host-` cookie
 * counts: a plain one may have been planted over HTTP or by a sibling host (session fixation).
 */
export function sessionCookie(req: Request): string | undefined {
  const header = req.get('cookie');
  if (!header) return undefined;
  const cookies = new Map<string, string>();
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return cookies.get(req.secure ? SECURE_COOKIE_NAME : COOKIE_NAME) || undefined;
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Path=/, and Secure over HTTPS. */
export function setSessionCookie(
  req: Request,
  res: Response,
  id: string,
  maxAgeSeconds: number,
): void {
  const name = req.secure ? SECURE_COOKIE_NAME : COOKIE_NAME;
  const secure = req.secure ? '; Secure' : '';
  res.append(
    'Set-Cookie',
    `${name}=${id}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`,
  );
}

export function clearSessionCookie(req: Request, res: Response): void {
  setSessionCookie(req, res, '', 0);
}

/**
 * Whether the request comes from a page of this origin: `Sec-Fetch-Site: same-origin` (or no
 * such header) and an `Origin` whose host is the request's Host (or no Origin).
 */
export function fromSameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.get('origin');
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.get('host');
  } catch {
    return false;
  }
}

/** Refuses a state-changing call from another origin or without the session's CSRF token. */
export function checkCsrf(req: Request, session: UiSession): void {
  if (SAFE_METHODS.has(req.method)) return;
  if (!fromSameOrigin(req)) {
    throw new GatewayError(
      'VEC_AUTH_FORBIDDEN',
      'Cross-origin calls with the UI session are refused.',
    );
  }
  const sent = req.get(CSRF_HEADER);
  if (sent === undefined || !hashesEqual(sent, session.csrfToken)) {
    throw new GatewayError(
      'VEC_AUTH_FORBIDDEN',
      'The X-CSRF-Token header is missing or wrong; reload the page.',
    );
  }
}

export interface CookieSessionsDeps {
  store: UiSessionStore;
  /** Whether the admin token a session was opened with still exists (revocation ends it). */
  adminTokenExists(tokenId: string): Promise<boolean>;
}

/** The live session of the request, or VEC_AUTH_REQUIRED; `touch` as in UiSessionStore.find. */
export async function requireSession(
  req: Request,
  deps: CookieSessionsDeps,
  options: { touch?: boolean } = {},
): Promise<{ id: string; session: UiSession }> {
  const id = sessionCookie(req);
  const session = id === undefined ? undefined : await deps.store.find(id, options);
  if (id === undefined || !session) {
    throw new GatewayError('VEC_AUTH_REQUIRED', 'The web UI session ended; sign in again.');
  }
  if (!(await deps.adminTokenExists(session.tokenId))) {
    await deps.store.close(id);
    throw new GatewayError(
      'VEC_AUTH_REQUIRED',
      'The admin token behind this session was revoked; sign in again.',
    );
  }
  return { id, session };
}

/** The authorizer's view of the sessions: cookie present → the session's admin, CSRF checked. */
export function createCookieSessions(deps: CookieSessionsDeps): CookieSessions {
  return {
    present: (req) => sessionCookie(req) !== undefined,
    async principal(req, options) {
      const { session } = await requireSession(req, deps, options);
      checkCsrf(req, session);
      const principal: Extract<Principal, { kind: 'admin' }> = {
        kind: 'admin',
        tokenId: session.tokenId,
        name: session.name,
        role: session.role,
      };
      return principal;
    },
  };
}
