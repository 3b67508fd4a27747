/**
 * semantic: how risky the request looks, as an explainable score (src/semantic/). It never
 * refuses on its own; it leaves the assessment on `ctx.risk` for `approval`, which compares it with
 * HumanInTheLoop.Threshold. Built only when Semantic.Enabled.
 *
 * The body: this stage never reads `ctx.request.body` (a stream that `forward` sends on, of any
 * size). It scores a body only when an earlier stage (policy) already buffered it under its own
 * limit and `bodyOf` hands it over; otherwise it scores method, path and declared size.
 */
import type { Logger } from '../../observability/types';
import { agentOf } from '../../semantic/denials';
import type { RiskAssessment, RiskInput, RiskScorer } from '../../semantic/types';
import { CONTINUE, type RequestContext, type Stage } from '../types';
import { riskInputFrom } from '../../semantic/risk-input';
import { checkDependency, checkOptions, configInvalid } from './options';

export type SemanticStageOptions = Record<string, never>;

export interface SemanticStageDeps {
  scorer: RiskScorer;
  /**
   * The body an earlier stage already read, if any (never read here): text, bytes, or the
   * parsed JSON the policy stage keeps (scored as its JSON text); undefined when not read.
   */
  bodyOf?: (ctx: RequestContext) => unknown;
  logger?: Logger;
}

/** Room on top of the scorer's own deadline, so its fallback answers before the runner's budget. */
const BUDGET_MARGIN_MS = 1_000;

/** The request's risk, once this stage has run (it leaves it on `ctx.risk`). */
export function riskOf(ctx: RequestContext): RiskAssessment | undefined {
  return ctx.risk;
}

export function createSemanticStage(options: SemanticStageOptions, deps: SemanticStageDeps): Stage {
  checkOptions('semantic', options, []);
  checkDependency('semantic', deps, 'scorer', ['score']);
  if (deps.bodyOf !== undefined && typeof deps.bodyOf !== 'function') {
    throw configInvalid('semantic', 'bodyOf', 'must be a function');
  }
  const { scorer, bodyOf } = deps;
  const log = deps.logger?.child({ component: 'semantic' });

  async function semantic(ctx: RequestContext) {
    const assessment = await scorer.score(riskInputOf(ctx, textOf(bodyOf?.(ctx))));
    ctx.risk = assessment;
    log?.debug(assessment.explanation, {
      requestId: ctx.requestId,
      risk: assessment.score,
      provider: assessment.provider,
      factors: assessment.factors.map((f) => f.name),
    });
    return CONTINUE;
  }
  return scorer.timeoutMs === undefined
    ? semantic
    : Object.assign(semantic, { timeoutMs: scorer.timeoutMs + BUDGET_MARGIN_MS });
}

export function riskInputOf(ctx: RequestContext, bodyText: string | undefined): RiskInput {
  return riskInputFrom(ctx.request, bodyText, agentOf(ctx));
}

/** Text to scan: as given, bytes as UTF-8, a parsed JSON value as JSON; nothing otherwise. */
function textOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  try {
    return JSON.stringify(body);
  } catch {
    return undefined; // not JSON-shaped (a cycle, a BigInt): scored without the body
  }
}

export { riskInputFrom, type ScoredRequest } from '../../semantic/risk-input';
