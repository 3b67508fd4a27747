/**
 * The rateLimit stage with the memory store: continue within the limit, a VEC_RATE_LIMITED
 * refusal (429, retryAfter, limit, remaining, reset) over it, the RateLimit-* headers on both,
 * and where the service tier's service comes from.
 */
import { GatewayError } from '../../src/errors';
import { createRateLimiter, type RateLimitOverrides } from '../../src/guards/rate-limit';
import { silentLogger } from '../../src/observability/types';
import { agentPrincipal, testContext, testService } from '../helpers/context';
import { createPipeline } from '../../src/pipeline/runner';
import {
  createRateLimitStage,
  rateLimitHeaders,
  rateLimitOf,
} from '../../src/pipeline/stages/rate-limit';
import { CONTINUE, type Decision, type RequestContext, type Stage } from '../../src/pipeline/types';
import type { AgentPrincipal } from '../../src/identity/agent-auth';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

const agent = agentPrincipal();

const github = testService();

function context(principal: AgentPrincipal | undefined = agent, vault = 'prod'): RequestContext {
  return testContext({ request: { path: '/repos/x/y' }, principal, vault });
}

function stage(perMinute: number, burst: number, overrides?: RateLimitOverrides) {
  const limiter = createRateLimiter({
    config: { DefaultRequestsPerMinute: perMinute, Burst: burst },
    overrides,
    store: { kind: 'memory' },
    now: () => Date.now(),
  });
  return createRateLimitStage({}, { limiter });
}

async function run(s: Stage, times: number, make: () => RequestContext = () => context()) {
  const results: Array<{ decision: Decision; ctx: RequestContext }> = [];
  for (let i = 0; i < times; i++) {
    const ctx = make();
    results.push({ decision: await s(ctx), ctx });
  }
  return results;
}

const errorOf = (decision: Decision): GatewayError => {
  if (decision.kind !== 'deny') throw new Error(`expected a deny, got ${decision.kind}`);
  return decision.error;
};

describe('rateLimit stage', () => {
  afterEach(() => jest.useRealTimers());

  it('is a named stage that validates its options and dependencies', () => {
    expect(stage(1, 0).name).toBe('rateLimit');
    const limiter = createRateLimiter({
      config: { DefaultRequestsPerMinute: 1, Burst: 0 },
      store: { kind: 'memory' },
    });
    expect(() => createRateLimitStage({ fast: true } as never, { limiter })).toThrow(
      /pipeline stage rateLimit: fast is not an option/,
    );
    expect(() => createRateLimitStage({}, {} as never)).toThrow(/limiter must provide consume/);
    expect(() => createRateLimitStage({}, { limiter, vaults: {} as never })).toThrow(
      /vaults must provide matchService/,
    );
  });

  it('continues within the limit and sends RateLimit-* headers counting down', async () => {
    const results = await run(stage(2, 1), 3);
    expect(results.map((r) => r.decision)).toEqual([CONTINUE, CONTINUE, CONTINUE]);
    expect(results.map((r) => rateLimitHeaders(r.ctx)['ratelimit-remaining'])).toEqual([
      '2',
      '1',
      '0',
    ]);
    const headers = rateLimitHeaders(results[0].ctx);
    expect(Object.keys(headers).sort()).toEqual([
      'ratelimit-limit',
      'ratelimit-remaining',
      'ratelimit-reset',
    ]);
    expect(headers['ratelimit-limit']).toBe('3');
    expect(Number(headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    expect(Number(headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
  });

  it('refuses over the limit with VEC_RATE_LIMITED, Retry-After, limit and reset', async () => {
    jest.useFakeTimers({ now: T0 });
    const s = stage(60, 10);
    await run(s, 70);
    jest.advanceTimersByTime(42_500);
    const ctx = context();
    const error = errorOf(await s(ctx));
    expect(error.code).toBe('VEC_RATE_LIMITED');
    expect(error.statusCode).toBe(429);
    expect(error.message).toBe(
      'Rate limit reached: 70 requests per 60 s for agent "bot" (the default: 60 per minute + burst 10); retry after 18 s.',
    );
    expect(error.toJSON()).toEqual({
      error: 'Rate limited',
      code: 'VEC_RATE_LIMITED',
      message: error.message,
      statusCode: 429,
      retryAfter: 18,
      limit: 70,
      remaining: 0,
      reset: Math.ceil((T0 + 60_000) / 1000),
      tier: 'default',
    });
    // The headers go on the 429 too.
    expect(rateLimitHeaders(ctx)).toEqual({
      'ratelimit-limit': '70',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '18',
    });
    expect(rateLimitOf(ctx)).toEqual({ limit: 70, remaining: 0, resetSeconds: 18 });
  });

  it('applies a vault override before an agent override', async () => {
    const s = stage(100, 0, { agents: { bot: 50 }, vaults: { prod: 1 } });
    const [first, second] = await run(s, 2);
    expect(first.decision).toEqual(CONTINUE);
    const error = errorOf(second.decision);
    expect(error.message).toContain('in vault "prod" (vault override: 1 per minute + burst 0)');
    expect(error.context).toMatchObject({ tier: 'vault', limit: 1 });
    // The same agent in another vault: its agent override.
    const [other] = await run(s, 1, () => context(agent, 'dev'));
    expect(rateLimitOf(other.ctx)).toMatchObject({ limit: 50, remaining: 49 });
  });

  it('counts a session under its agent, and an agentless session on its own', async () => {
    const s = stage(1, 0);
    const session = (agentName: string | null, sessionId: string): AgentPrincipal => ({
      kind: 'session',
      sessionId,
      agentName,
      vault: 'prod',
      expiresAt: '',
    });
    await run(s, 1);
    const [viaSession] = await run(s, 1, () => context(session('bot', 'sess1')));
    expect(errorOf(viaSession.decision).code).toBe('VEC_RATE_LIMITED');
    const [agentless] = await run(s, 1, () => context(session(null, 'sess2')));
    expect(agentless.decision).toEqual(CONTINUE);
  });

  it('uses ctx.service for the service tier when it is set', async () => {
    const s = stage(100, 0, { services: { github: 1 } });
    const withService = () => {
      const ctx = context();
      ctx.service = github;
      return ctx;
    };
    const [, second] = await run(s, 2, withService);
    expect(errorOf(second.decision).context).toMatchObject({ tier: 'service', limit: 1 });
    // Without ctx.service and without `vaults`, the service tier is skipped.
    const [plain] = await run(s, 1);
    expect(rateLimitOf(plain.ctx)).toMatchObject({ limit: 100 });
  });

  it('looks the service up through vaults.matchService only when a service override exists', async () => {
    const calls: unknown[] = [];
    const vaults = {
      async matchService(
        vault: string,
        request: { scheme: 'http' | 'https'; host: string; port: number; path: string },
      ) {
        calls.push({ vault, ...request });
        if (request.path === '/boom') throw new GatewayError('VEC_STORAGE_UNAVAILABLE');
        return request.host === 'api.github.com' ? github : undefined;
      },
    };
    const limiterWith = (overrides: RateLimitOverrides) =>
      createRateLimiter({
        config: { DefaultRequestsPerMinute: 100, Burst: 0 },
        overrides,
        store: { kind: 'memory' },
      });

    const none = createRateLimitStage({}, { limiter: limiterWith({}), vaults });
    await none(context());
    expect(calls).toEqual([]);

    const some = createRateLimitStage(
      {},
      { limiter: limiterWith({ services: { github: 1 } }), vaults },
    );
    const [, second] = await run(some, 2);
    expect(errorOf(second.decision).context).toMatchObject({ tier: 'service', limit: 1 });
    expect(calls[0]).toEqual({
      vault: 'prod',
      scheme: 'https',
      host: 'api.github.com',
      port: 443,
      path: '/repos/x/y',
    });

    // A failed lookup skips the tier (resolveService refuses next with its own code).
    const broken = context();
    broken.request.path = '/boom';
    expect(await some(broken)).toEqual(CONTINUE);
    expect(rateLimitOf(broken)).toMatchObject({ limit: 100 });
  });

  it('has no headers for a request it did not see', () => {
    expect(rateLimitHeaders(context())).toEqual({});
    expect(rateLimitOf(context())).toBeUndefined();
  });

  it('in the runner: a refusal is audited with its code; running before authenticate fails closed', async () => {
    const s = stage(1, 0);
    const pipeline = createPipeline([s], { logger: silentLogger });
    expect(await pipeline(context())).toEqual(CONTINUE);
    const ctx = context();
    const decision = await pipeline(ctx);
    expect(errorOf(decision).code).toBe('VEC_RATE_LIMITED');
    expect(ctx.audit).toMatchObject({ decision: 'deny', errorCode: 'VEC_RATE_LIMITED' });
    expect(ctx.audit.reason).toMatch(/^Rate limit reached: 1 requests per 60 s/);

    const early = context();
    early.principal = undefined; // as if authenticate had not run
    expect(errorOf(await pipeline(early)).code).toBe('VEC_PIPELINE_STAGE_FAILED');
  });
});
