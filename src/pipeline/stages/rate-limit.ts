/**
 * rateLimit: whether the agent is within its request rate (../../guards/rate-limit.ts holds the
 * limits and the stores). Runs right after authenticate, so ctx.principal and ctx.vault are set.
 *
 * Service overrides: in STAGE_ORDER this stage runs before resolveService, so ctx.service is
 * normally not known yet. The stage uses ctx.service when it is set; otherwise, when some service
 * override exists and the optional `vaults` dependency is given, it asks
 * `vaults.matchService` (the same cached match resolveService makes) which service the request
 * is for. Without `vaults`, or when that lookup fails (resolveService then refuses the request
 * itself), the service tier is skipped and the vault, agent or default limit applies.
 *
 * The outcome (limit, remaining, reset) goes on `ctx.rateLimit`, allowed or refused, so that
 * every response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
 * (../response-headers.ts).
 */
import { GatewayError } from '../../errors';
import type { RateLimiter, RateLimitSubject, RateLimitVerdict } from '../../guards/rate-limit';
import type { VaultService } from '../../vault/service-types';
import { CONTINUE, type RateLimitState, type RequestContext, type Stage } from '../types';
import { checkDependency, checkOptions } from './options';

/** No options: the limits come with the limiter. */
export type RateLimitStageOptions = Record<string, never>;

export interface RateLimitStageDeps {
  limiter: Pick<RateLimiter, 'consume' | 'hasServiceOverrides'>;
  /** Lets service overrides apply before resolveService has run (see above). */
  vaults?: Pick<VaultService, 'matchService'>;
}

export function createRateLimitStage(
  options: RateLimitStageOptions,
  deps: RateLimitStageDeps,
): Stage {
  checkOptions('rateLimit', options, []);
  checkDependency('rateLimit', deps, 'limiter', ['consume']);
  if (deps.vaults !== undefined) checkDependency('rateLimit', deps, 'vaults', ['matchService']);
  const { limiter, vaults } = deps;

  /** The service's name when it is known or can be looked up; undefined skips the tier. */
  async function serviceOf(ctx: RequestContext, vault: string): Promise<string | undefined> {
    if (ctx.service) return ctx.service.name;
    if (!vaults || !limiter.hasServiceOverrides) return undefined;
    const { scheme, host, port, path } = ctx.request;
    try {
      return (await vaults.matchService(vault, { scheme, host, port, path }))?.name;
    } catch {
      return undefined; // resolveService makes the same lookup next and refuses with its code
    }
  }

  return async function rateLimit(ctx) {
    const { principal, vault } = ctx;
    if (!principal || !vault) throw new Error('rateLimit ran before authenticate');
    const subject: RateLimitSubject = {
      agentName: principal.agentName,
      sessionId: principal.kind === 'session' ? principal.sessionId : undefined,
      vault,
      service: await serviceOf(ctx, vault),
    };
    const verdict = await limiter.consume(subject);
    const resetSeconds = Math.max(1, Math.ceil(verdict.resetMs / 1000));
    ctx.rateLimit = { limit: verdict.limit, remaining: verdict.remaining, resetSeconds };
    return verdict.allowed ? CONTINUE : { kind: 'deny', error: rateLimited(verdict, resetSeconds) };
  };
}

function rateLimited(verdict: RateLimitVerdict, retryAfter: number): GatewayError {
  return new GatewayError(
    'VEC_RATE_LIMITED',
    `Rate limit reached: ${verdict.description}; retry after ${retryAfter} s.`,
    {
      context: {
        retryAfter,
        limit: verdict.limit,
        remaining: 0,
        // Unix time (seconds) when the window resets, like Retry-After but absolute.
        reset: Math.ceil(verdict.resetAt / 1000),
        tier: verdict.tier,
      },
    },
  );
}

/** The rate-limit outcome of this request, once the rateLimit stage has run. */
export function rateLimitOf(ctx: RequestContext): RateLimitState | undefined {
  return ctx.rateLimit;
}

export { rateLimitHeaders } from '../response-headers';
export type { RateLimitState } from '../types';
