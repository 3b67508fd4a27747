/**
 * Slows clients that keep presenting bad tokens. Failures are counted per client address AND
 * token prefix (the token's kind plus its first 4 random characters, see
 * tokenPrefixForThrottle), in a fixed window: after `maxFailures` rejected tokens within
 * `windowMs`, that address+prefix is refused with VEC_AUTH_THROTTLED until the window ends.
 * Keying on the prefix too means a script hammering `vec_agt_AAAA…` from a shared address (a
 * NAT, a CI runner, the agents' container host) does not lock out the valid clients behind
 * that address, whose tokens start differently. JWTs have no prefix of ours; they are keyed by
 * the first characters of their signature, which differ between tokens for the same reason.
 *
 * Counters live in the cache provider, so with Redis every replica sees the same count; with
 * no cache given, a private in-memory cache with the injected clock does the same job for one
 * process.
 */
import { MemoryCache } from '../cache/memory';
import type { Cache } from '../cache/types';
import { silentLogger, type Logger } from '../observability/types';
import { tokenPrefixForThrottle } from './tokens';

export interface AuthThrottleOptions {
  /** Shared counters (Redis across replicas); default: in memory, this process only. */
  cache?: Cache;
  /** Clock in epoch milliseconds, for the in-memory counters. */
  now?: () => number;
  /** Rejected tokens allowed per address and prefix within one window; default 10. */
  maxFailures?: number;
  /** Length of the window in milliseconds; default 60 000. */
  windowMs?: number;
  logger?: Logger;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface AuthThrottle {
  /** Whether this address may present this token now; call before checking the token. */
  check(clientAddress: string, token: string): Promise<ThrottleVerdict>;
  /** Counts one rejected token; call when authentication refused it. */
  recordFailure(clientAddress: string, token: string): Promise<void>;
}

const KEY_PREFIX = 'auth-throttle:';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.([A-Za-z0-9_-]*)$/;
const JWT_SIGNATURE_CHARS = 4;

/** The part of the counter's key taken from the token: never more than a few characters. */
export function throttleKeyForToken(token: string): string {
  const prefix = tokenPrefixForThrottle(token);
  if (prefix !== 'unknown') return prefix;
  const jwt = JWT_SHAPE.exec(token);
  return jwt ? `jwt:${jwt[1].slice(0, JWT_SIGNATURE_CHARS)}` : prefix;
}

export function createAuthThrottle(options: AuthThrottleOptions = {}): AuthThrottle {
  const maxFailures = options.maxFailures ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  if (!Number.isInteger(maxFailures) || maxFailures < 1) {
    throw new RangeError(`maxFailures must be a positive integer, got ${maxFailures}`);
  }
  if (!Number.isInteger(windowMs) || windowMs < 1) {
    throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`);
  }
  const cache = options.cache ?? new MemoryCache({ now: options.now, sweepIntervalMs: windowMs });
  const logger = options.logger ?? silentLogger;
  const keyFor = (address: string, token: string) =>
    `${KEY_PREFIX}${address}:${throttleKeyForToken(token)}`;

  // Fail-open, for throttling only: a cache outage must not turn into refusing every client
  // (valid ones included) at the door. Throttling is a slowdown on top of authentication,
  // which itself still fails closed: a bad token is refused whether or not it was counted.
  const failOpen = (operation: string, error: unknown) =>
    logger.warn(`auth throttle ${operation} failed; not throttling (fail-open)`, {
      code: 'VEC_CACHE_UNAVAILABLE',
      error: (error as Error)?.message ?? String(error),
    });

  return {
    async check(clientAddress, token) {
      const key = keyFor(clientAddress, token);
      try {
        const failures = Number((await cache.get(key)) ?? 0);
        if (failures < maxFailures) return { allowed: true };
        const ttlMs = await cache.timeToLive(key);
        // A counter without expiry should not exist; wait a whole window rather than forever.
        const retryAfterSeconds = Math.max(1, Math.ceil((ttlMs ?? windowMs) / 1000));
        logger.info('authentication throttled', {
          code: 'VEC_AUTH_THROTTLED',
          clientAddress,
          tokenPrefix: throttleKeyForToken(token),
          failures,
          retryAfterSeconds,
        });
        return { allowed: false, retryAfterSeconds };
      } catch (error) {
        failOpen('check', error);
        return { allowed: true };
      }
    },
    async recordFailure(clientAddress, token) {
      try {
        await cache.increment(keyFor(clientAddress, token), 1, windowMs);
      } catch (error) {
        failOpen('recordFailure', error);
      }
    },
  };
}
