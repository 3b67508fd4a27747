/**
 * Redis failing under the rate limiter: the in-memory insurance limiter takes over, so a store
 * error is never a 429 and never unlimited traffic. The outage is logged once and every insured
 * request counts in vectra_rate_limit_insurance_total. First against a client whose server is
 * not there at all (a closed port), then against a private redis-server that is killed and
 * restarted: the shared counter is used before, the insurance during, Redis again after.
 */
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { parseRedisConnectionString } from '../../src/cache/connection-string';
import { closeRedis, connectRedis } from '../../src/cache/redis-connection';
import { createRateLimiter, INSURANCE_METRIC_NAME } from '../../src/guards/rate-limit';
import { createRateLimitStage, rateLimitOf } from '../../src/pipeline/stages/rate-limit';
import { CONTINUE, type Decision, type RequestContext } from '../../src/pipeline/types';
import { agentPrincipal, testContext } from '../helpers/context';
import {
  RedisServerProcess,
  describeWithRedisServer,
  freePort,
  recordingLogger,
  uniquePrefix,
  waitFor,
} from '../helpers/waiting-and-processes';

const agent = agentPrincipal();

function context(): RequestContext {
  return testContext({ principal: agent, vault: 'prod' });
}

const codeOf = (decision: Decision) =>
  decision.kind === 'deny' ? decision.error.code : decision.kind;

async function insuranceCount(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric(INSURANCE_METRIC_NAME)?.get();
  return metric?.values[0]?.value ?? 0;
}

/** rate 3 + burst 1: four requests per window. */
function setUp(client: Redis) {
  const registry = new Registry();
  const logger = recordingLogger();
  const limiter = createRateLimiter({
    config: { DefaultRequestsPerMinute: 3, Burst: 1 },
    store: { kind: 'redis', client, keyPrefix: `${uniquePrefix()}rate-limit` },
    metrics: registry,
    logger,
  });
  const stage = createRateLimitStage({}, { limiter });
  const outageLines = () =>
    logger.lines.filter((line) => line.message.includes('rate-limit store failed'));
  const recoveryLines = () =>
    logger.lines.filter((line) => line.message.includes('rate-limit store answers again'));
  return { registry, logger, limiter, stage, outageLines, recoveryLines };
}

describe('rate limit insurance: Redis never reached', () => {
  let client: Redis;

  beforeAll(async () => {
    // Nothing listens on this port; the connection attempt fails and is not retried.
    client = new Redis({
      host: '127.0.0.1',
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    await client.connect().catch(() => undefined);
  });

  // disconnect() on an ended client would arm a timer nothing clears.
  afterAll(() => {
    if (client.status !== 'end') client.disconnect();
  });

  it('counts in memory: no 429 from the store error, still limited, logged once, counted', async () => {
    const { registry, stage, outageLines } = setUp(client);
    const decisions: Decision[] = [];
    const contexts: RequestContext[] = [];
    for (let i = 0; i < 6; i++) {
      const ctx = context();
      contexts.push(ctx);
      decisions.push(await stage(ctx));
    }
    expect(decisions.map(codeOf)).toEqual([
      'continue',
      'continue',
      'continue',
      'continue',
      'VEC_RATE_LIMITED',
      'VEC_RATE_LIMITED',
    ]);
    expect(decisions[0]).toEqual(CONTINUE);
    expect(rateLimitOf(contexts[0])).toMatchObject({ limit: 4, remaining: 3 });
    expect(await insuranceCount(registry)).toBe(6);
    expect(outageLines()).toHaveLength(1);
    expect(outageLines()[0]).toMatchObject({
      level: 'warn',
      meta: { component: 'rate-limit', code: 'VEC_CACHE_UNAVAILABLE' },
    });
  });
});

describeWithRedisServer()('rate limit insurance: Redis killed and restarted', () => {
  let server: RedisServerProcess;
  let client: Redis;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    client = await connectRedis({
      address: parseRedisConnectionString(server.address),
      reconnectDelayMs: { min: 10, max: 100 },
    });
  });

  afterAll(async () => {
    if (client) await closeRedis(client);
    await server?.kill();
  });

  it('shares the count in Redis, falls back to memory while it is down, and goes back', async () => {
    const { registry, limiter, stage, outageLines, recoveryLines } = setUp(client);
    const bot = { agentName: 'bot', vault: 'prod' };

    // Before: Redis counts.
    const before = [await limiter.consume(bot), await limiter.consume(bot)];
    expect(before.map((v) => [v.allowed, v.remaining, v.insured])).toEqual([
      [true, 3, false],
      [true, 2, false],
    ]);
    expect(outageLines()).toHaveLength(0);

    // During: the insurance limiter counts, from its own (empty) count, up to the same limit.
    await server.kill();
    await waitFor('the client to notice Redis is gone', () => client.status !== 'ready');
    expect(await stage(context())).toEqual(CONTINUE); // the store error is not a 429
    const during = [];
    for (let i = 0; i < 4; i++) during.push(await limiter.consume(bot));
    expect(during.map((v) => [v.allowed, v.insured])).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [false, true],
    ]);
    expect(during[3].resetMs).toBeGreaterThan(0);
    expect(await insuranceCount(registry)).toBe(5);
    expect(outageLines()).toHaveLength(1);

    // After: Redis counts again (this server keeps no data, so its window starts afresh).
    await server.restart();
    await waitFor('the client to reconnect', () => client.status === 'ready');
    const after = await limiter.consume(bot);
    expect(after).toMatchObject({ allowed: true, remaining: 3, insured: false });
    expect((await limiter.consume(bot)).remaining).toBe(2);
    expect(recoveryLines()).toHaveLength(1);
    expect(recoveryLines()[0].level).toBe('info');
    expect(await insuranceCount(registry)).toBe(5);
  });
});
