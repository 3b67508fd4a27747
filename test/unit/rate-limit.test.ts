/**
 * The rate limiter with the memory store: limit = per-minute rate + burst per 60 s window,
 * override precedence (service > vault > agent > default, each tier its own counter), reset
 * times, and construction-time validation. Windows pass under Jest's fake clock (which
 * rate-limiter-flexible's memory store reads), never by sleeping.
 */
import { Registry } from 'prom-client';
import { GatewayError } from '../../src/errors';
import {
  createRateLimiter,
  type RateLimiterOptions,
  type RateLimitSubject,
} from '../../src/guards/rate-limit';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function limiter(overrides?: RateLimiterOptions['overrides'], perMinute = 3, burst = 2) {
  return createRateLimiter({
    config: { DefaultRequestsPerMinute: perMinute, Burst: burst },
    overrides,
    store: { kind: 'memory' },
  });
}

async function consumeTimes(
  rl: ReturnType<typeof limiter>,
  subject: RateLimitSubject,
  times: number,
) {
  const verdicts = [];
  for (let i = 0; i < times; i++) verdicts.push(await rl.consume(subject));
  return verdicts;
}

const bot: RateLimitSubject = { agentName: 'bot', vault: 'prod' };

describe('rate limiter (memory store)', () => {
  afterEach(() => jest.useRealTimers());

  it('allows the per-minute rate plus the burst in one window, then refuses', async () => {
    const rl = limiter(undefined, 3, 2);
    const verdicts = await consumeTimes(rl, bot, 7);
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(verdicts.map((v) => v.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
    expect(verdicts[0]).toMatchObject({
      tier: 'default',
      perMinute: 3,
      burst: 2,
      limit: 5,
      windowSeconds: 60,
      key: 'agent:bot',
      insured: false,
    });
    expect(verdicts[5].resetMs).toBeGreaterThan(0);
    expect(verdicts[5].resetMs).toBeLessThanOrEqual(60_000);
  });

  it('allows exactly the rate when the burst is 0', async () => {
    const verdicts = await consumeTimes(limiter(undefined, 2, 0), bot, 3);
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, false]);
  });

  it('starts over when the window ends, and says when that is', async () => {
    jest.useFakeTimers({ now: T0 });
    const rl = createRateLimiter({
      config: { DefaultRequestsPerMinute: 1, Burst: 1 },
      store: { kind: 'memory' },
      now: () => Date.now(),
    });
    await consumeTimes(rl, bot, 2); // window opened at T0
    jest.advanceTimersByTime(45_000);
    const refused = await rl.consume(bot);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, resetMs: 15_000 });
    expect(refused.resetAt).toBe(T0 + 60_000);

    jest.advanceTimersByTime(15_000);
    const again = await rl.consume(bot);
    expect(again).toMatchObject({ allowed: true, remaining: 1, resetMs: 60_000 });
  });

  it('counts each agent on its own, and a session as its agent', async () => {
    const rl = limiter(undefined, 1, 0);
    expect((await rl.consume(bot)).allowed).toBe(true);
    expect((await rl.consume({ agentName: 'other', vault: 'prod' })).allowed).toBe(true);
    // A session minted for "bot" shares bot's counter: minting sessions adds no allowance.
    const session = await rl.consume({ agentName: 'bot', sessionId: 's1', vault: 'prod' });
    expect(session).toMatchObject({ allowed: false, key: 'agent:bot' });
    // A session without an agent counts on its own.
    const anonymous = await rl.consume({ agentName: null, sessionId: 's2', vault: 'prod' });
    expect(anonymous).toMatchObject({ allowed: true, key: 'session:s2' });
    expect(() => rl.ruleFor({ vault: 'prod' })).toThrow(/neither an agent name nor a session/);
  });

  it('picks the most specific override: service > vault > agent > default', () => {
    const rl = limiter({
      agents: { bot: 10 },
      vaults: { prod: 20 },
      services: { github: 30, 'prod/github': 40 },
    });
    const rule = (subject: RateLimitSubject) => {
      const { tier, perMinute, limit, key } = rl.ruleFor(subject);
      return { tier, perMinute, limit, key };
    };
    expect(rule({ agentName: 'bot', vault: 'prod', service: 'github' })).toEqual({
      tier: 'service',
      perMinute: 40,
      limit: 42,
      key: 'agent:bot:service:prod/github',
    });
    expect(rule({ agentName: 'bot', vault: 'dev', service: 'github' })).toEqual({
      tier: 'service',
      perMinute: 30,
      limit: 32,
      key: 'agent:bot:service:dev/github',
    });
    expect(rule({ agentName: 'bot', vault: 'prod', service: 'slack' })).toEqual({
      tier: 'vault',
      perMinute: 20,
      limit: 22,
      key: 'agent:bot:vault:prod',
    });
    expect(rule({ agentName: 'bot', vault: 'dev' })).toEqual({
      tier: 'agent',
      perMinute: 10,
      limit: 12,
      key: 'agent:bot',
    });
    expect(rule({ agentName: 'other', vault: 'dev' })).toEqual({
      tier: 'default',
      perMinute: 3,
      limit: 5,
      key: 'agent:other',
    });
    // Names that are also Object.prototype keys are not overrides.
    expect(rule({ agentName: 'constructor', vault: 'toString' }).tier).toBe('default');
  });

  it('counts each tier in its own counter', async () => {
    const rl = limiter({ vaults: { prod: 1 }, services: { github: 2 } }, 1, 0);
    const github = { agentName: 'bot', vault: 'prod', service: 'github' };
    const inProd = { agentName: 'bot', vault: 'prod', service: 'slack' };
    const inDev = { agentName: 'bot', vault: 'dev' };
    expect((await consumeTimes(rl, github, 3)).map((v) => v.allowed)).toEqual([true, true, false]);
    expect((await consumeTimes(rl, inProd, 2)).map((v) => v.allowed)).toEqual([true, false]);
    expect((await consumeTimes(rl, inDev, 2)).map((v) => v.allowed)).toEqual([true, false]);
  });

  it('describes the limit in one phrase, naming where it comes from', () => {
    const rl = limiter({ vaults: { prod: 20 }, services: { github: 5 } }, 60, 10);
    expect(rl.ruleFor({ agentName: 'bot', vault: 'dev' }).description).toBe(
      '70 requests per 60 s for agent "bot" (the default: 60 per minute + burst 10)',
    );
    expect(rl.ruleFor({ agentName: 'bot', vault: 'prod' }).description).toBe(
      '30 requests per 60 s for agent "bot" in vault "prod" (vault override: 20 per minute + burst 10)',
    );
    expect(rl.ruleFor({ sessionId: 'abc', vault: 'prod', service: 'github' }).description).toBe(
      '15 requests per 60 s for session abc calling service "github" of vault "prod" (service override: 5 per minute + burst 10)',
    );
  });

  it('keys names so that separators in them cannot collide', () => {
    const rl = limiter({ vaults: { 'a:b': 5 } });
    expect(rl.ruleFor({ agentName: 'x:vault:a', vault: 'b' }).key).toBe('agent:x%3Avault%3Aa');
    expect(rl.ruleFor({ agentName: 'x', vault: 'a:b' }).key).toBe('agent:x:vault:a%3Ab');
  });

  it('applies a lowered limit to what the window already counted', async () => {
    const rl = limiter(undefined, 5, 0);
    for (let i = 0; i < 3; i++) expect((await rl.consume(bot)).allowed).toBe(true);
    rl.setOverrides({ agents: { bot: 2 } });
    expect(await rl.consume(bot)).toMatchObject({ allowed: false, limit: 2, remaining: 0 });
    rl.setOverrides({});
    // Back on the default (5): the 5th request of the window passes, the 6th does not.
    expect(await rl.consume(bot)).toMatchObject({ allowed: true, limit: 5, remaining: 0 });
    expect((await rl.consume(bot)).allowed).toBe(false);
  });

  it('takes new overrides, keeping the counters', async () => {
    const rl = limiter(undefined, 1, 0);
    expect(rl.hasServiceOverrides).toBe(false);
    await rl.consume(bot);
    rl.setOverrides({ agents: { bot: 2 }, services: { github: 1 } });
    expect(rl.hasServiceOverrides).toBe(true);
    const verdict = await rl.consume(bot);
    expect(verdict).toMatchObject({ allowed: true, limit: 2, tier: 'agent' });
    expect(() => rl.setOverrides({ agents: { bot: 0 } })).toThrow(GatewayError);
  });

  it('refuses bad configuration and overrides at construction, naming the field', () => {
    const build = (options: Partial<RateLimiterOptions>) => () =>
      createRateLimiter({
        config: { DefaultRequestsPerMinute: 60, Burst: 10 },
        store: { kind: 'memory' },
        ...options,
      } as RateLimiterOptions);
    const expectInvalid = (fn: () => unknown, message: RegExp) => {
      let caught: unknown;
      try {
        fn();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(GatewayError);
      expect((caught as GatewayError).code).toBe('VEC_CONFIG_INVALID');
      expect((caught as GatewayError).message).toMatch(message);
    };
    expectInvalid(
      build({ config: { DefaultRequestsPerMinute: 0, Burst: 1 } }),
      /System\.RateLimit\.DefaultRequestsPerMinute/,
    );
    expectInvalid(
      build({ config: { DefaultRequestsPerMinute: 1, Burst: 1.5 } }),
      /System\.RateLimit\.Burst/,
    );
    expectInvalid(build({ store: { kind: 'disk' } as never }), /store\.kind/);
    expectInvalid(build({ store: { kind: 'redis', client: {} as never } }), /store\.client/);
    expectInvalid(build({ overrides: { agents: { bot: -1 } } }), /overrides\.agents\["bot"\]/);
    expectInvalid(build({ overrides: { hosts: {} } as never }), /overrides\.hosts is not a tier/);
    expectInvalid(build({ overrides: { vaults: [] as never } }), /overrides\.vaults must map/);
  });

  it('registers the insurance counter once per registry (memory never uses it)', async () => {
    const registry = new Registry();
    const options = {
      config: { DefaultRequestsPerMinute: 1, Burst: 0 },
      store: { kind: 'memory' as const },
      metrics: registry,
    };
    const rl = createRateLimiter(options);
    expect(() => createRateLimiter(options)).not.toThrow();
    await rl.consume(bot);
    const metric = await registry.getSingleMetric('vectra_rate_limit_insurance_total')?.get();
    expect(metric?.values[0]?.value ?? 0).toBe(0);
  });
});
