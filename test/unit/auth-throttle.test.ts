import { MemoryCache } from '../../src/cache/memory';
import type { Cache } from '../../src/cache/types';
import { createAuthThrottle, throttleKeyForToken } from '../../src/identity/auth-throttle';
import type { Logger } from '../../src/observability/types';

const token = (start: string, kind = 'vec_agt_') =>
  `${kind}${start}${'x'.repeat(43 - start.length)}`;
const GARBAGE = token('AAAA');
const VALID = token('Zk3q');
const ADDRESS = '203.0.113.7';

describe('auth throttle', () => {
  let clock: number;
  const now = () => clock;

  beforeEach(() => {
    clock = 1_700_000_000_000;
  });

  const throttle = (options: Parameters<typeof createAuthThrottle>[0] = {}) =>
    createAuthThrottle({ now, maxFailures: 3, windowMs: 60_000, ...options });

  async function fail(t: ReturnType<typeof createAuthThrottle>, times: number, tok = GARBAGE) {
    for (let i = 0; i < times; i += 1) await t.recordFailure(ADDRESS, tok);
  }

  it('keys on the token kind and its first 4 characters, JWTs on their signature', () => {
    expect(throttleKeyForToken(GARBAGE)).toBe('vec_agt_AAAA');
    expect(throttleKeyForToken(token('BBBB', 'vec_sess_'))).toBe('vec_sess_BBBB');
    expect(throttleKeyForToken('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.SflKxwRJSMeKKF2QT4')).toBe(
      'jwt:SflK',
    );
    expect(throttleKeyForToken('something-else')).toBe('unknown');
  });

  it('allows up to maxFailures bad tokens, then refuses that address and prefix', async () => {
    const t = throttle();
    await fail(t, 2);
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: true });
    await fail(t, 1);
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    // Any token with the same prefix is the same guesser.
    expect((await t.check(ADDRESS, token('AAAAbcd'))).allowed).toBe(false);
  });

  it('does not lock out a valid token from the same address', async () => {
    const t = throttle();
    await fail(t, 10);
    expect(await t.check(ADDRESS, GARBAGE)).toMatchObject({ allowed: false });
    expect(await t.check(ADDRESS, VALID)).toEqual({ allowed: true });
    expect(await t.check(ADDRESS, token('AAAA', 'vec_sess_'))).toEqual({ allowed: true });
  });

  it('does not throttle other addresses presenting the same prefix', async () => {
    const t = throttle();
    await fail(t, 3);
    expect(await t.check('198.51.100.9', GARBAGE)).toEqual({ allowed: true });
  });

  it('counts in a fixed window: Retry-After shrinks, and the window ends it', async () => {
    const t = throttle();
    await fail(t, 3);
    clock += 45_500;
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: false, retryAfterSeconds: 15 });
    // More failures inside the window do not extend it.
    await fail(t, 5);
    clock += 14_499;
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock += 1;
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: true });
    await fail(t, 2);
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: true });
  });

  it('throttles garbage JWTs without locking out a valid JWT from the same address', async () => {
    const t = throttle();
    const expired = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAAxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQ';
    const valid = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ5In0.Q8pRk2vYtN0bLmZ3aWc4XhJd7sE1uFgK9oPqRs';
    await fail(t, 3, expired);
    expect((await t.check(ADDRESS, expired)).allowed).toBe(false);
    expect(await t.check(ADDRESS, valid)).toEqual({ allowed: true });
  });

  it('shares counts through the cache, as replicas sharing Redis do', async () => {
    const cache = new MemoryCache({ now, sweepIntervalMs: 0 });
    const replicaA = throttle({ cache });
    const replicaB = throttle({ cache });
    await fail(replicaA, 2);
    await fail(replicaB, 1);
    expect((await replicaA.check(ADDRESS, GARBAGE)).allowed).toBe(false);
    expect((await replicaB.check(ADDRESS, GARBAGE)).allowed).toBe(false);
    await cache.close();
  });

  it('fails open, and logs it, when the cache is down', async () => {
    const down = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const broken = {
      get: () => Promise.reject(down),
      increment: () => Promise.reject(down),
      timeToLive: () => Promise.reject(down),
    } as unknown as Cache;
    const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
    const logger = {
      warn: (message: string, meta?: Record<string, unknown>) => warnings.push([message, meta]),
      info: () => undefined,
    } as unknown as Logger;
    const t = throttle({ cache: broken, logger });

    await expect(t.recordFailure(ADDRESS, GARBAGE)).resolves.toBeUndefined();
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: true });
    expect(warnings.map(([message]) => message)).toEqual([
      'auth throttle recordFailure failed; not throttling (fail-open)',
      'auth throttle check failed; not throttling (fail-open)',
    ]);
    expect(warnings[0][1]).toMatchObject({ error: down.message });
  });

  it('never writes a whole token into a cache key', async () => {
    const cache = new MemoryCache({ now, sweepIntervalMs: 0 });
    const keys: string[] = [];
    const spy = jest.spyOn(cache, 'increment').mockImplementation(async (key) => {
      keys.push(key);
      return 1;
    });
    await throttle({ cache }).recordFailure(ADDRESS, GARBAGE);
    expect(keys).toEqual([`auth-throttle:${ADDRESS}:vec_agt_AAAA`]);
    spy.mockRestore();
    await cache.close();
  });

  it('uses 10 failures per 60 seconds by default and validates its options', async () => {
    const t = createAuthThrottle({ now });
    await fail(t, 9);
    expect((await t.check(ADDRESS, GARBAGE)).allowed).toBe(true);
    await fail(t, 1);
    expect(await t.check(ADDRESS, GARBAGE)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(() => createAuthThrottle({ maxFailures: 0 })).toThrow(/maxFailures/);
    expect(() => createAuthThrottle({ windowMs: 1.5 })).toThrow(/windowMs/);
  });
});
