/**
 * Two replicas (two limiters, each with its own ioredis connection) sharing the real Redis:
 * whatever the interleaving, their combined allowed count is exactly the limit, an override
 * holds across both, and Retry-After comes from the counter's expiry in Redis.
 */
import type { Redis } from 'ioredis';
import { parseRedisConnectionString } from '../../src/cache/connection-string';
import { closeRedis, connectRedis } from '../../src/cache/redis-connection';
import { createRateLimiter, type RateLimitOverrides } from '../../src/guards/rate-limit';
import { createRateLimitStage, rateLimitHeaders } from '../../src/pipeline/stages/rate-limit';
import type { Decision, RequestContext } from '../../src/pipeline/types';
import { agentPrincipal, testContext } from '../helpers/context';
import { describeWith, REDIS_ADDRESS } from '../helpers/services';
import { uniquePrefix } from '../helpers/waiting-and-processes';

function context(agentName: string, vault = 'prod'): RequestContext {
  return testContext({
    principal: agentPrincipal(vault, { agentId: agentName, agentName }),
    vault,
  });
}

describeWith('redis')('rate limit shared through Redis by two replicas', () => {
  const keyPrefix = `${uniquePrefix()}rate-limit`;
  let a: Redis;
  let b: Redis;

  beforeAll(async () => {
    const address = parseRedisConnectionString(REDIS_ADDRESS);
    [a, b] = await Promise.all([connectRedis({ address }), connectRedis({ address })]);
  });

  afterAll(async () => {
    if (a) {
      const keys = await a.keys(`${keyPrefix}:*`);
      if (keys.length > 0) await a.del(...keys);
    }
    await Promise.all([a && closeRedis(a), b && closeRedis(b)]);
  });

  function replicas(perMinute: number, burst: number, overrides?: RateLimitOverrides) {
    return [a, b].map((client) =>
      createRateLimiter({
        config: { DefaultRequestsPerMinute: perMinute, Burst: burst },
        overrides,
        store: { kind: 'redis', client, keyPrefix },
      }),
    );
  }

  it('allows exactly the limit in total, however the requests interleave', async () => {
    const [replicaA, replicaB] = replicas(20, 5); // 25 per window
    const subject = { agentName: 'concurrent', vault: 'prod' };
    const pick = (i: number) => (i % 2 === 0 ? replicaA : replicaB);
    // Taking turns: both replicas count into the same counter.
    const turns = [];
    for (let i = 0; i < 10; i++) turns.push(await pick(i).consume(subject));
    expect(turns.map((v) => v.remaining)).toEqual([24, 23, 22, 21, 20, 19, 18, 17, 16, 15]);
    // All at once, on both connections.
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => pick(i).consume(subject)));
    const verdicts = [...turns, ...burst];
    const allowed = verdicts.filter((v) => v.allowed);
    expect(allowed).toHaveLength(25);
    expect(verdicts.some((v) => v.insured)).toBe(false);
    // Each allowed request saw a different count: the increments were atomic.
    expect(allowed.map((v) => v.remaining).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 25 }, (_, i) => i),
    );
    expect((await replicaA.consume(subject)).allowed).toBe(false);
    expect((await replicaB.consume(subject)).allowed).toBe(false);
  });

  it('holds an override across replicas, with Retry-After from the key in Redis', async () => {
    const [replicaA, replicaB] = replicas(100, 0, { vaults: { prod: 3 } }).map((limiter) =>
      createRateLimitStage({}, { limiter }),
    );
    const decisions: Decision[] = [];
    const contexts: RequestContext[] = [];
    for (const stage of [replicaA, replicaB, replicaA, replicaB]) {
      const ctx = context('override');
      contexts.push(ctx);
      decisions.push(await stage(ctx));
    }
    expect(decisions.slice(0, 3).map((d) => d.kind)).toEqual(['continue', 'continue', 'continue']);
    const refused = decisions[3];
    if (refused.kind !== 'deny') throw new Error(`expected a deny, got ${refused.kind}`);
    expect(refused.error.code).toBe('VEC_RATE_LIMITED');
    expect(refused.error.context).toMatchObject({ limit: 3, remaining: 0, tier: 'vault' });
    const retryAfter = refused.error.context.retryAfter as number;
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(rateLimitHeaders(contexts[1])).toMatchObject({
      'ratelimit-limit': '3',
      'ratelimit-remaining': '1',
    });
    // Another vault of the same agent: the default, in its own counter.
    expect((await replicaB(context('override', 'dev'))).kind).toBe('continue');
    const ttl = await a.pttl(`${keyPrefix}:agent:override:vault:prod`);
    expect(ttl).toBeGreaterThan(50_000);
  });
});
