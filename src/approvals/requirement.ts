/**
 * When a human must approve a request, and the one sentence that says why: the policy asked for
 * review (effect Hitl), or the risk (the semantic score, or a risk the deciding rule declares,
 * whichever is higher) reaches HumanInTheLoop.Threshold. The approval stage refuses with it, and
 * dry runs show it, word for word.
 */
import { GatewayError } from '../errors';
import { describeFactors, roundScore } from '../semantic/explain';
import type { RiskAssessment, RiskFactor } from '../semantic/types';

export type PolicyEffect = 'Allow' | 'Deny' | 'Hitl';

/**
 * What the policy stage decided, as far as approval needs it; src/policy/types.ts's
 * PolicyDecision fits as it is. Declared here so that this stage builds without the engine.
 */
export interface PolicyVerdict {
  effect: PolicyEffect;
  /** One sentence saying why, naming the policy and rule that decided. */
  reason?: string;
  /** The deciding rule, named when there is no reason to quote. */
  rule?: string;
  /** 0..1, the highest risk the matching rules (or OPA) declared; weighs like a semantic score. */
  risk?: number;
}

export interface ApprovalStageOptions {
  /** HumanInTheLoop.Enabled: whether the risk threshold applies. */
  enabled: boolean;
  /** HumanInTheLoop.Threshold, 0..1. */
  threshold: number;
}

/**
 * VEC_APPROVAL_REQUIRED with its one sentence when a human must approve the request (policy
 * Hitl, or the risk at or above the threshold), undefined when not. Shared with dry runs, which
 * say what this stage would answer.
 */
export function approvalRequired(
  policy: PolicyVerdict | undefined,
  assessment: RiskAssessment | undefined,
  { enabled, threshold }: ApprovalStageOptions,
): GatewayError | undefined {
  const review = policy?.effect === 'Hitl';
  const risk = enabled ? effectiveRisk(assessment, policy) : undefined;
  const risky = risk !== undefined && risk.score >= threshold;
  if (!review && !risky) return undefined;

  const why: string[] = [];
  const reasons: string[] = [];
  if (review) {
    why.push(policyClause(policy));
    reasons.push(policy?.reason ? trimStop(policy.reason) : 'the policy asks for review');
  }
  if (risky) {
    why.push(
      `its risk score ${risk.score.toFixed(2)} reaches the threshold ${threshold} ` +
        `because ${describeFactors(risk.factors)}`,
    );
    reasons.push(...risk.factors.map((f) => f.detail));
  }
  const message = `A human must approve this request: ${why.join(', and ')}.`;
  return new GatewayError('VEC_APPROVAL_REQUIRED', message, {
    context: { ...(risk === undefined ? {} : { risk: risk.score }), reasons },
  });
}

/** The semantic score, or the rule's declared risk when that is higher (then it leads the list). */
function effectiveRisk(
  assessment: RiskAssessment | undefined,
  verdict: PolicyVerdict | undefined,
): { score: number; factors: readonly RiskFactor[] } | undefined {
  const declared = verdict?.risk;
  if (typeof declared !== 'number' || !Number.isFinite(declared)) return assessment;
  const weight = roundScore(declared);
  const factor: RiskFactor = {
    name: 'policy.risk',
    weight,
    detail: `the policy rates its risk ${weight.toFixed(2)}`,
  };
  const factors = [factor, ...(assessment?.factors ?? [])].sort((a, b) => b.weight - a.weight);
  return { score: Math.max(weight, assessment?.score ?? 0), factors };
}

/** The policy's reason already names its policy and rule; the rule alone is named without one. */
function policyClause(verdict: PolicyVerdict | undefined): string {
  if (verdict?.reason) return `the policy asks for review (${trimStop(verdict.reason)})`;
  return verdict?.rule
    ? `policy rule "${verdict.rule}" asks for review`
    : 'the policy asks for review';
}

/** A reason is a sentence of its own; inside ours it loses its full stop. */
function trimStop(text: string): string {
  return text.trim().replace(/[.。]+$/, '');
}
