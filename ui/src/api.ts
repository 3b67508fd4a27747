/**
 * Calls to the gateway with the session cookie. The CSRF token handed out at sign-in is kept
 * in memory only and sent on every state-changing call; the admin token is never stored.
 */
import type { SessionInfo } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSessionEnded: () => void = () => undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when a call answers 401: the session ended (idle, expired, signed out elsewhere). */
export function whenSessionEnds(handler: () => void): void {
  onSessionEnded = handler;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const error = new ApiError(
      res.status,
      String(data.code ?? 'VEC_UNKNOWN'),
      String(data.message ?? `${res.status} ${res.statusText}`),
    );
    if (res.status === 401 && !path.startsWith('/ui/api/session')) onSessionEnded();
    throw error;
  }
  return data as T;
}

export async function currentSession(): Promise<SessionInfo | undefined> {
  try {
    const session = await api<SessionInfo>('GET', '/ui/api/session');
    setCsrfToken(session.csrfToken);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

/** Tells the app when the session has ended (a stream that failed may be why). */
export async function confirmSession(): Promise<boolean> {
  const session = await currentSession().catch(() => 'unknown' as const);
  if (session === undefined) onSessionEnded();
  return session !== undefined;
}

export async function signIn(token: string): Promise<SessionInfo> {
  const session = await api<SessionInfo>('POST', '/ui/api/session', { token });
  setCsrfToken(session.csrfToken);
  return session;
}

export async function signOut(): Promise<void> {
  try {
    await api<void>('DELETE', '/ui/api/session');
  } finally {
    setCsrfToken(undefined);
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
