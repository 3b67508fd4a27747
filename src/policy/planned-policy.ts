/**
 * The shapes the policy walk and the partial-evaluation reducer share: a policy set planned once
 * per load (each rule's outcome made up front), a policy reduced for one context, and the checks
 * both make (whether a policy applies, the first failing condition, a rule that cannot judge).
 */
import type { CompiledPolicy, CompiledRule } from './policy-file';
import { PolicyEvaluationError, type CompiledCondition } from './operators';
import type { PolicyEffect, PolicyInput, UnreadableBody } from './types';
import { UnreadableBodyError } from './unreadable-body';

export const SEVERITY: Record<PolicyEffect, number> = { Allow: 0, Hitl: 1, Deny: 2 };

export interface Outcome {
  effect: PolicyEffect;
  /** SEVERITY of `effect`. */
  severity: number;
  reason: string;
  policy: string;
  rule?: string;
  /** `risk` of the rule that matched. */
  risk?: number;
  /** Set when the outcome is a rule that could not judge the body. */
  unreadableBody?: UnreadableBody;
}

export interface PlannedRule {
  readonly rule: CompiledRule;
  readonly outcome: Outcome;
  /** The rule as every context leaves it: set when none of its conditions reads the context. */
  whole?: ReducedRule;
}

export interface PlannedPolicy {
  readonly policy: CompiledPolicy;
  readonly rules: readonly PlannedRule[];
  readonly fallback: Outcome;
  /** The policy as every context it applies to leaves it: set when no rule reads the context. */
  whole?: ReducedPolicy;
}

/** A policy that applies, reduced for one context: its outcome, or the rules left to judge. */
export interface ReducedPolicy {
  readonly outcome?: Outcome;
  readonly planned: PlannedPolicy;
  readonly rules: readonly ReducedRule[];
}

export interface ReducedRule {
  readonly planned: PlannedRule;
  /** The conditions on per-request fields, in rule order; all must hold to reach `end`. */
  readonly conditions: readonly CompiledCondition[];
  /**
   * When they hold: the rule matches, or a context condition after them fails (the rule does
   * not match), or one could not be judged (its message).
   */
  readonly end: 'match' | 'fail' | { readonly problem: string };
}

/** Whether `policy` judges this request (enabled, and `appliesTo` lets it in). */
export function applies(policy: CompiledPolicy, input: PolicyInput): boolean {
  if (!policy.enabled) return false;
  const { agents, vaults, services } = policy.appliesTo;
  if (agents && !agents.matches(input.agent.name) && !agents.matches(input.agent.id)) return false;
  if (vaults && !vaults.matches(input.vault)) return false;
  return !services || services.matches(input.service?.name);
}

/** The text of the first condition that does not hold, or undefined when all hold. */
export function firstFailing(
  conditions: readonly CompiledCondition[],
  input: PolicyInput,
): string | undefined {
  for (const condition of conditions) {
    if (!condition.test(input)) return condition.text;
  }
  return undefined;
}

/**
 * A rule that could not be judged refuses the request, for its policy (fail closed); `problem`
 * is the message, or the error that says it (and whether the body was what could not be read).
 */
export function unjudgeable(
  policy: CompiledPolicy,
  rule: CompiledRule,
  problem: string | PolicyEvaluationError,
): Outcome {
  const message = typeof problem === 'string' ? problem : problem.message;
  return {
    effect: 'Deny',
    severity: SEVERITY.Deny,
    reason: `Policy ${policy.name} (rule ${rule.name}): the rule could not be judged (${message}), so the request is refused.`,
    policy: policy.name,
    rule: rule.name,
    ...(problem instanceof UnreadableBodyError ? { unreadableBody: problem.why } : {}),
  };
}
