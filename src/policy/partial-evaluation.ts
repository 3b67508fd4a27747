/**
 * Partial evaluation, the policy hot path. Most conditions read fields that repeat from one
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
import { PolicyEvaluationError, type CompiledCondition } from './operators';
import {
  applies,
  firstFailing,
  unjudgeable,
  type Outcome,
  type PlannedPolicy,
  type PlannedRule,
  type ReducedPolicy,
  type ReducedRule,
} from './planned-policy';
import type { PolicyInput } from './types';

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

/**
 * The context's values, each behind its length (or `-` for none), so that no two contexts share
 * a key whatever characters their names hold.
 */
export function contextKey(input: PolicyInput): string {
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
export function reduce(plan: readonly PlannedPolicy[], input: PolicyInput): ReducedPolicy[] {
  const reduced: ReducedPolicy[] = [];
  for (const planned of plan) {
    if (applies(planned.policy, input)) reduced.push(planned.whole ?? reducePolicy(planned, input));
  }
  return reduced;
}

/** One policy that applies, reduced; without `input`, one whose rules read no context field. */
export function reducePolicy(planned: PlannedPolicy, input?: PolicyInput): ReducedPolicy {
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

export function readsContext(condition: CompiledCondition): boolean {
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
export function judgeReduced(reduced: ReducedPolicy, input: PolicyInput): Outcome {
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
