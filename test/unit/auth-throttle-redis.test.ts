/**
 * The auth throttle on real Redis: two replicas (two connections) count the same failures,
 * and Retry-After comes from the key's expiry in Redis.
 */
import { randomBytes } from 'node:crypto';
import { RedisCache } from '../../src/cache/redis';
import { createAuthThrottle } from '../../src/identity/auth-throttle';
import { describeWith, REDIS_ADDRESS } from '../helpers/services';

const GARBAGE = `vec_agt_AAAA${'x'.repeat(39)}`;
const VALID = `vec_agt_Zk3q${'y'.repeat(39)}`;
const ADDRESS = '203.0.113.7';

describeWith('redis')('auth throttle shared through Redis', () => {
  const keyPrefix = `vectra-test-${randomBytes(4).toString('hex')}:`;
  let a: RedisCache;
  let b: RedisCache;

  beforeAll(async () => {
    a = await RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix });
    b = await RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix });
  });

  afterAll(async () => {
    await a?.delete(`auth-throttle:${ADDRESS}:vec_agt_AAAA`);
    await Promise.all([a?.close(), b?.close()]);
  });

  it('refuses on one replica what failed on the other, and spares a valid prefix', async () => {
    const replicaA = createAuthThrottle({ cache: a, maxFailures: 4, windowMs: 30_000 });
    const replicaB = createAuthThrottle({ cache: b, maxFailures: 4, windowMs: 30_000 });
    await Promise.all([
      replicaA.recordFailure(ADDRESS, GARBAGE),
      replicaA.recordFailure(ADDRESS, GARBAGE),
      replicaB.recordFailure(ADDRESS, GARBAGE),
      replicaB.recordFailure(ADDRESS, GARBAGE),
    ]);

    const verdict = await replicaA.check(ADDRESS, GARBAGE);
    expect(verdict.allowed).toBe(false);
    if (verdict.allowed) return;
    expect(verdict.retryAfterSeconds).toBeGreaterThan(25);
    expect(verdict.retryAfterSeconds).toBeLessThanOrEqual(30);
    expect((await replicaB.check(ADDRESS, GARBAGE)).allowed).toBe(false);
    expect(await replicaB.check(ADDRESS, VALID)).toEqual({ allowed: true });
  });
});
