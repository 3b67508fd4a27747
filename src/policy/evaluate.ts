/**
 * Judging one request against a compiled policy set (the Internal provider's hot path).
 *
 * Within a policy, rules are tried highest priority first and the first rule whose conditions
 * all hold decides; when none does, the policy's default decides. A rule without conditions
 * always holds. Across the policies that apply (`appliesTo`), the combination is deny-overrides:
 * any Deny wins, then any Hitl, then Allow. Among decisions of the same effect, one made by a
 * rule explains more than a default, so it is the one reported; then file order. The decision's
 * risk is the highest `risk` of every rule that matched. When no policy applies (an empty
 * directory, or `appliesTo` leaving the request out everywhere), the request is refused (fail
 * closed): an agent nobody wrote a policy for gets nothing by accident. The engine warns when it
 * loads an empty set; "allow the rest" is a policy with `"default": "Allow"`.
 */
import type { CompiledPolicy, CompiledRule } from './policy-file';
import { PolicyEvaluationError } from './operators';
import type { PolicyDecision, PolicyEffect, PolicyInput, PolicyTrace } from './types';

export interface PolicySet {
  readonly policies: readonly CompiledPolicy[];
  /** Some condition reads request.body. */
  readonly readsBody: boolean;
  /**
   * The policies as judging walks them, with every outcome made once per load: judging a
   * request allocates nothing and follows no lookup table.
   */
  readonly plan: readonly PlannedPolicy[];
}

const SEVERITY: Record<PolicyEffect, number> = { Allow: 0, Hitl: 1, Deny: 2 };

interface Outcome {
  effect: PolicyEffect;
  /** SEVERITY of `effect`. */
  severity: number;
  reason: string;
  policy: string;
  rule?: string;
  /** `risk` of the rule that matched. */
  risk?: number;
}

interface PlannedRule {
  readonly rule: CompiledRule;
  readonly outcome: Outcome;
}

interface PlannedPolicy {
  readonly policy: CompiledPolicy;
  readonly rules: readonly PlannedRule[];
  readonly fallback: Outcome;
}

export function policySet(policies: readonly CompiledPolicy[]): PolicySet {
  const plan = policies.map((policy): PlannedPolicy => ({
    policy,
    fallback: Object.freeze({
      effect: policy.defaultEffect,
      severity: SEVERITY[policy.defaultEffect],
      reason: policy.defaultReason,
      policy: policy.name,
    }),
    rules: policy.rules.map((rule) => ({
      rule,
      outcome: Object.freeze({
        effect: rule.effect,
        severity: SEVERITY[rule.effect],
        reason: rule.reason,
        policy: policy.name,
        rule: rule.name,
        ...(rule.risk === undefined ? {} : { risk: rule.risk }),
      }),
    })),
  }));
  return { policies, readsBody: policies.some((p) => p.enabled && p.readsBody), plan };
}

/** The combined decision; with `trace`, each policy's part is appended to it. */
export function evaluatePolicies(
  set: PolicySet,
  input: PolicyInput,
  trace?: PolicyTrace[],
): PolicyDecision {
  let best: Outcome | undefined;
  let risk: number | undefined;
  for (const planned of set.plan) {
    const policy = planned.policy;
    if (!applies(policy, input)) {
      // The reason in words only when someone reads it.
      if (trace) {
        const skipped = notApplying(policy, input) ?? 'does not apply';
        trace.push({ policy: policy.name, file: policy.file, applies: false, skipped });
      }
      continue;
    }
    const tried: NonNullable<PolicyTrace['rules']> | undefined = trace ? [] : undefined;
    const outcome = evaluatePolicy(planned, input, tried);
    trace?.push({
      policy: policy.name,
      file: policy.file,
      applies: true,
      effect: outcome.effect,
      ...(outcome.rule === undefined ? {} : { rule: outcome.rule }),
      rules: tried,
    });
    if (outcome.risk !== undefined) risk = Math.max(risk ?? 0, outcome.risk);
    if (
      best === undefined ||
      outcome.severity > best.severity ||
      (outcome.severity === best.severity && outcome.rule && !best.rule)
    ) {
      best = outcome;
    }
  }
  if (!best) {
    const agent = input.agent.name ?? input.agent.id ?? '(unnamed)';
    return {
      effect: 'Deny',
      reason: `No policy applies to agent ${agent} in vault ${input.vault ?? '(none)'}, and a request no policy covers is refused.`,
    };
  }
  return {
    effect: best.effect,
    reason: best.reason,
    policy: best.policy,
    ...(best.rule === undefined ? {} : { rule: best.rule }),
    ...(risk === undefined ? {} : { risk }),
  };
}

/** Whether `policy` judges this request (enabled, and `appliesTo` lets it in). */
function applies(policy: CompiledPolicy, input: PolicyInput): boolean {
  if (!policy.enabled) return false;
  const { agents, vaults, services } = policy.appliesTo;
  if (agents && !agents.matches(input.agent.name) && !agents.matches(input.agent.id)) return false;
  if (vaults && !vaults.matches(input.vault)) return false;
  return !services || services.matches(input.service?.name);
}

/** Why `policy` leaves this request out, or undefined when it applies. */
function notApplying(policy: CompiledPolicy, input: PolicyInput): string | undefined {
  if (!policy.enabled) return 'disabled ("enabled": false)';
  const { agents, vaults, services } = policy.appliesTo;
  if (agents && !agents.matches(input.agent.name) && !agents.matches(input.agent.id)) {
    return `appliesTo.agents is ${agents.patterns.join(', ')}`;
  }
  if (vaults && !vaults.matches(input.vault)) {
    return `appliesTo.vaults is ${vaults.patterns.join(', ')}`;
  }
  if (services && !services.matches(input.service?.name)) {
    return `appliesTo.services is ${services.patterns.join(', ')}`;
  }
  return undefined;
}

function evaluatePolicy(
  planned: PlannedPolicy,
  input: PolicyInput,
  tried?: NonNullable<PolicyTrace['rules']>,
): Outcome {
  const policy = planned.policy;
  for (const { rule, outcome } of planned.rules) {
    let failed: string | undefined;
    try {
      failed = firstFailing(rule, input);
    } catch (err) {
      if (!(err instanceof PolicyEvaluationError)) throw err;
      tried?.push({
        rule: rule.name,
        priority: rule.priority,
        matched: false,
        failed: err.message,
      });
      return {
        effect: 'Deny',
        severity: SEVERITY.Deny,
        reason: `Policy ${policy.name} (rule ${rule.name}): the rule could not be judged (${err.message}), so the request is refused.`,
        policy: policy.name,
        rule: rule.name,
      };
    }
    tried?.push({
      rule: rule.name,
      priority: rule.priority,
      matched: failed === undefined,
      ...(failed === undefined ? {} : { failed }),
    });
    if (failed === undefined) return outcome;
  }
  return planned.fallback;
}

/** The text of the first condition that does not hold, or undefined when all hold. */
function firstFailing(rule: CompiledRule, input: PolicyInput): string | undefined {
  for (const condition of rule.conditions) {
    if (!condition.test(input)) return condition.text;
  }
  return undefined;
}
