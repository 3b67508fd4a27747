/**
 * Headers the pipeline adds to whatever answer a request gets, refusal or upstream answer: the
 * agent's rate-limit budget, from what the rateLimit stage left on the context.
 */
import type { RequestContext } from './types';

/**
 * `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` (seconds until the window resets,
 * as the IETF RateLimit header draft has it), lower-case like HeaderMap; empty when the stage has
 * not run (e.g. the request was refused by authenticate).
 */
export function rateLimitHeaders(ctx: RequestContext): Record<string, string> {
  const state = ctx.rateLimit;
  if (!state) return {};
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
  };
}
