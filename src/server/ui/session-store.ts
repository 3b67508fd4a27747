/**
 * Web UI sessions: an admin token is exchanged once for a random session id (the cookie) and a
 * CSRF token. The record lives in the cache provider under the SHA-256 of the id, so with Redis
 * every replica knows every session, and neither the id nor the admin token is ever stored.
 * A session ends at sign-out, after `idleMs` without a request, or `lifetimeMs` after sign-in.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '../../cache/types';
import type { AdminRole } from '../../identity/types';

export interface UiSession {
  /** The admin token the session was opened with (its id, never the token). */
  tokenId: string;
  name: string;
  role: AdminRole;
  /** Required in `X-CSRF-Token` on every state-changing call. */
  csrfToken: string;
  /** Epoch milliseconds. */
  createdAt: number;
  lastSeenAt: number;
}

export interface UiSessionStoreOptions {
  cache: Cache;
  lifetimeMs: number;
  idleMs: number;
  /** Clock in epoch milliseconds; tests inject one. */
  now?: () => number;
}

export interface UiSessionStore {
  readonly lifetimeMs: number;
  readonly idleMs: number;
  /** Opens a session; the id is returned once, for the cookie. */
  open(principal: Pick<UiSession, 'tokenId' | 'name' | 'role'>): Promise<{
    id: string;
    session: UiSession;
  }>;
  /**
   * The live session for `id`, or undefined when none is. Its idle clock restarts unless
   * `touch` is false (a live stream checking that its session still stands is no activity).
   */
  find(id: string, options?: { touch?: boolean }): Promise<UiSession | undefined>;
  close(id: string): Promise<void>;
}

const KEY_PREFIX = 'ui-session:';
/** A session's idle clock is written back at most this often, not on every request. */
const TOUCH_EVERY_MS = 5_000;

export function createUiSessionStore(options: UiSessionStoreOptions): UiSessionStore {
  const { cache, lifetimeMs, idleMs } = options;
  if (!(lifetimeMs > 0) || !(idleMs > 0)) throw new Error('UI session durations must be positive');
  const now = options.now ?? Date.now;
  const keyOf = (id: string) => KEY_PREFIX + createHash('sha256').update(id).digest('hex');
  /** The cache forgets a record once it could no longer be used anyway. */
  const ttlOf = (session: UiSession, at: number) =>
    Math.max(1, Math.min(idleMs, session.createdAt + lifetimeMs - at));

  return {
    lifetimeMs,
    idleMs,
    async open(principal) {
      const at = now();
      const id = randomBytes(32).toString('base64url');
      const session: UiSession = {
        tokenId: principal.tokenId,
        name: principal.name,
        role: principal.role,
        csrfToken: randomBytes(32).toString('base64url'),
        createdAt: at,
        lastSeenAt: at,
      };
      await cache.set(keyOf(id), JSON.stringify(session), ttlOf(session, at));
      return { id, session };
    },
    async find(id, { touch = true } = {}) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
      const key = keyOf(id);
      const text = await cache.get(key);
      if (text === null) return undefined;
      const session = JSON.parse(text) as UiSession;
      const at = now();
      if (at - session.lastSeenAt >= idleMs || at - session.createdAt >= lifetimeMs) {
        await cache.delete(key);
        return undefined;
      }
      if (touch && at - session.lastSeenAt >= TOUCH_EVERY_MS) {
        session.lastSeenAt = at;
        await cache.set(key, JSON.stringify(session), ttlOf(session, at));
      }
      return session;
    },
    async close(id) {
      await cache.delete(keyOf(id));
    },
  };
}
