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
 *
 * The hot path judges by partial evaluation (./partial-evaluation.ts); a trace asks for the
 * full walk, which gives the same decision.
 */
import { BoundedMemo } from '../bounded-memo';
import type { CompiledPolicy } from './policy-file';
import { PolicyEvaluationError } from './operators';
import { contextKey, judgeReduced, readsContext, reduce, reducePolicy } from './partial-evaluation';
import {
  applies,
  firstFailing,
  SEVERITY,
  unjudgeable,
  type Outcome,
  type PlannedPolicy,
  type ReducedPolicy,
} from './planned-policy';
import type { PolicyDecision, PolicyInput, PolicyTrace } from './types';

export interface PolicySet {
  readonly policies: readonly CompiledPolicy[];
  /** Some condition reads request.body. */
  readonly readsBody: boolean;
  /**
   * The policies as the traced walk takes them, with every outcome made once per load: the
   * walk allocates nothing but its trace.
   */
  readonly plan: readonly PlannedPolicy[];
  /** The set reduced for one context (contextKey), per context seen; bounded. */
  readonly reduced: BoundedMemo<string, readonly ReducedPolicy[]>;
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
  // Shared by every context, so that contexts cost memory only for what they change.
  for (const planned of plan) {
    for (const rule of planned.rules) {
      if (!rule.rule.conditions.some(readsContext)) {
        rule.whole = { planned: rule, conditions: rule.rule.conditions, end: 'match' };
      }
    }
    if (planned.rules.every((rule) => rule.whole)) planned.whole = reducePolicy(planned);
  }
  return {
    policies,
    readsBody: policies.some((p) => p.enabled && p.readsBody),
    plan,
    reduced: new BoundedMemo(REDUCED_CONTEXTS),
  };
}

/** Contexts whose reduced set is kept: agents × services × methods of a busy gateway. */
const REDUCED_CONTEXTS = 1024;
/** A longer context (a host name of kilobytes) is reduced for its request alone, not kept. */
const LONGEST_KEY = 512;

/** The combined decision; with `trace`, each policy's part is appended to it. */
export function evaluatePolicies(
  set: PolicySet,
  input: PolicyInput,
  trace?: PolicyTrace[],
): PolicyDecision {
  if (trace) return walkPolicies(set, input, trace);
  const key = contextKey(input);
  const reduced =
    key.length <= LONGEST_KEY
      ? set.reduced.get(key, () => reduce(set.plan, input))
      : reduce(set.plan, input);
  const combined = new Combined();
  for (const policy of reduced) {
    combined.add(policy.outcome ?? judgeReduced(policy, input));
  }
  return combined.decision(input);
}

/** The decision by walking every policy and rule, recording each step in `trace`. */
function walkPolicies(set: PolicySet, input: PolicyInput, trace: PolicyTrace[]): PolicyDecision {
  const combined = new Combined();
  for (const planned of set.plan) {
    const policy = planned.policy;
    if (!applies(policy, input)) {
      const skipped = notApplying(policy, input) ?? 'does not apply';
      trace.push({ policy: policy.name, file: policy.file, applies: false, skipped });
      continue;
    }
    const tried: NonNullable<PolicyTrace['rules']> = [];
    const outcome = evaluatePolicy(planned, input, tried);
    trace.push({
      policy: policy.name,
      file: policy.file,
      applies: true,
      effect: outcome.effect,
      ...(outcome.rule === undefined ? {} : { rule: outcome.rule }),
      rules: tried,
    });
    combined.add(outcome);
  }
  return combined.decision(input);
}

/** Deny-overrides over the outcomes of the policies that apply, added in file order. */
class Combined {
  private best: Outcome | undefined;
  private risk: number | undefined;

  add(outcome: Outcome): void {
    if (outcome.risk !== undefined) this.risk = Math.max(this.risk ?? 0, outcome.risk);
    const best = this.best;
    if (
      best === undefined ||
      outcome.severity > best.severity ||
      (outcome.severity === best.severity && outcome.rule && !best.rule)
    ) {
      this.best = outcome;
    }
  }

  decision(input: PolicyInput): PolicyDecision {
    const { best, risk } = this;
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
      ...(best.unreadableBody === undefined ? {} : { unreadableBody: best.unreadableBody }),
    };
  }
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
  tried: NonNullable<PolicyTrace['rules']>,
): Outcome {
  const policy = planned.policy;
  for (const { rule, outcome } of planned.rules) {
    let failed: string | undefined;
    try {
      failed = firstFailing(rule.conditions, input);
    } catch (err) {
      if (!(err instanceof PolicyEvaluationError)) throw err;
      tried.push({
        rule: rule.name,
        priority: rule.priority,
        matched: false,
        failed: err.message,
      });
      return unjudgeable(policy, rule, err);
    }
    tried.push({
      rule: rule.name,
      priority: rule.priority,
      matched: failed === undefined,
      ...(failed === undefined ? {} : { failed }),
    });
    if (failed === undefined) return outcome;
  }
  return planned.fallback;
}
