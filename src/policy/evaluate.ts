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
 * The hot path judges by partial evaluation. Most conditions read fields that repeat from one
 * request to the next: who asks (agent, vault), what they reach (service, scheme, host, port),
 * how (method) and when (hour, weekday). For each combination of those values the set is
 * reduced once, in rule order, to what is left to judge: appliesTo settled, a condition on them
 * that holds dropped, a rule with one that fails cut short there, a policy left with an
 * unconditional rule turned into its outcome. The remainder (path, query, headers, body, body
 * size) is judged per request. The reduction is memoised per set, bounded, and gives exactly the
 * decision the full walk gives (trace, dry runs), which a test checks on generated requests.
 * Rules and policies no context changes are shared by every context. A context seen for the
 * first time costs about three plain walks (the reduction, then its use); one agent cycling
 * through thousands of hosts pays that on each request, within its rate limit.
 */
import { BoundedMemo } from '../bounded-memo';
import type { CompiledPolicy, CompiledRule } from './policy-file';
import { PolicyEvaluationError, type CompiledCondition } from './operators';
import type {
  PolicyDecision,
  PolicyEffect,
  PolicyInput,
  PolicyTrace,
  UnreadableBody,
} from './types';
import { UnreadableBodyError } from './unreadable-body';

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
  /** Set when the outcome is a rule that could not judge the body. */
  unreadableBody?: UnreadableBody;
}

interface PlannedRule {
  readonly rule: CompiledRule;
  readonly outcome: Outcome;
  /** The rule as every context leaves it: set when none of its conditions reads the context. */
  whole?: ReducedRule;
}

interface PlannedPolicy {
  readonly policy: CompiledPolicy;
  readonly rules: readonly PlannedRule[];
  readonly fallback: Outcome;
  /** The policy as every context it applies to leaves it: set when no rule reads the context. */
  whole?: ReducedPolicy;
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
    key.length <= LONGEST_KEY ? set.reduced.get(key, () => reduce(set, input)) : reduce(set, input);
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

/** The text of the first condition that does not hold, or undefined when all hold. */
function firstFailing(
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
function unjudgeable(
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

// ---- Partial evaluation -------------------------------------------------------------------

/** Fields whose values make up a request's context: settled once per context. */
const CONTEXT_FIELDS: ReadonlySet<string> = new Set([
  'agent.name',
  'agent.id',
  'vault',
  'service.name',
  'request.method',
  'request.scheme',
  'request.host',
  'request.port',
  'time.hour',
  'time.weekday',
]);

/** A policy that applies, reduced for one context: its outcome, or the rules left to judge. */
interface ReducedPolicy {
  readonly outcome?: Outcome;
  readonly planned: PlannedPolicy;
  readonly rules: readonly ReducedRule[];
}

interface ReducedRule {
  readonly planned: PlannedRule;
  /** The conditions on per-request fields, in rule order; all must hold to reach `end`. */
  readonly conditions: readonly CompiledCondition[];
  /**
   * When they hold: the rule matches, or a context condition after them fails (the rule does
   * not match), or one could not be judged (its message).
   */
  readonly end: 'match' | 'fail' | { readonly problem: string };
}

/**
 * The context's values, each behind its length (or `-` for none), so that no two contexts share
 * a key whatever characters their names hold.
 */
function contextKey(input: PolicyInput): string {
  const { agent, request, time } = input;
  return (
    part(agent.name) +
    part(agent.id) +
    part(input.vault) +
    part(input.service?.name) +
    part(request.method) +
    part(request.scheme) +
    part(request.host) +
    part(String(request.port)) +
    part(String(time.hour)) +
    part(time.weekday)
  );
}

function part(value: string | null | undefined): string {
  return value === null || value === undefined ? '-' : `${value.length}:${value}`;
}

/** The set reduced for the context of `input` (only its context fields are read). */
function reduce(set: PolicySet, input: PolicyInput): ReducedPolicy[] {
  const reduced: ReducedPolicy[] = [];
  for (const planned of set.plan) {
    if (applies(planned.policy, input)) reduced.push(planned.whole ?? reducePolicy(planned, input));
  }
  return reduced;
}

/** One policy that applies, reduced; without `input`, one whose rules read no context field. */
function reducePolicy(planned: PlannedPolicy, input?: PolicyInput): ReducedPolicy {
  const rules: ReducedRule[] = [];
  for (const plannedRule of planned.rules) {
    const rule = plannedRule.whole ?? reduceRule(plannedRule, input!);
    if (rule === undefined) continue; // fails whatever the request
    rules.push(rule);
    if (rule.conditions.length === 0) break; // decides whatever the request: later rules unreached
  }
  const first = rules[0];
  if (first === undefined) return { outcome: planned.fallback, planned, rules: NO_RULES };
  if (first.conditions.length > 0) return { planned, rules };
  // Unconditional: it matches, or one of its context conditions could not be judged.
  const outcome =
    typeof first.end === 'object'
      ? unjudgeable(planned.policy, first.planned.rule, first.end.problem)
      : first.planned.outcome;
  return { outcome, planned, rules: NO_RULES };
}

const NO_RULES: readonly ReducedRule[] = Object.freeze([]);

function readsContext(condition: CompiledCondition): boolean {
  return CONTEXT_FIELDS.has(condition.field.name);
}

/**
 * One rule for the context: context conditions judged now, in order, the others kept; undefined
 * when a context condition fails before any condition is left to judge per request.
 */
function reduceRule(planned: PlannedRule, input: PolicyInput): ReducedRule | undefined {
  const conditions: CompiledCondition[] = [];
  let end: ReducedRule['end'] = 'match';
  for (const condition of planned.rule.conditions) {
    if (!readsContext(condition)) {
      conditions.push(condition);
      continue;
    }
    try {
      if (condition.test(input)) continue;
      end = 'fail';
    } catch (err) {
      if (!(err instanceof PolicyEvaluationError)) throw err;
      end = { problem: err.message };
    }
    break;
  }
  return end === 'fail' && conditions.length === 0 ? undefined : { planned, conditions, end };
}

/** The outcome of a reduced policy that has rules left to judge for this request. */
function judgeReduced(reduced: ReducedPolicy, input: PolicyInput): Outcome {
  const policy = reduced.planned.policy;
  for (const rule of reduced.rules) {
    let holds: boolean;
    try {
      holds = firstFailing(rule.conditions, input) === undefined;
    } catch (err) {
      if (!(err instanceof PolicyEvaluationError)) throw err;
      return unjudgeable(policy, rule.planned.rule, err);
    }
    if (!holds || rule.end === 'fail') continue;
    if (rule.end === 'match') return rule.planned.outcome;
    return unjudgeable(policy, rule.planned.rule, rule.end.problem);
  }
  return reduced.planned.fallback;
}
