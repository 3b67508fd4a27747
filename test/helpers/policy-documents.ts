/**
 * Policy documents as policy files hold them, for tests that compile, write or post them: one
 * line a rule instead of an object literal a rule. The builders only assemble objects; the
 * documents are checked by the code under test as any file would be.
 */

/** A condition of a rule as a policy file holds it. */
export interface ConditionDocument {
  field: string;
  operator: string;
  value?: unknown;
  [key: string]: unknown;
}

/** A rule as a policy file holds it. */
export interface RuleDocument {
  name: string;
  reason: string;
  effect: string;
  conditions: ConditionDocument[];
  [key: string]: unknown;
}

/** A policy as a policy file holds it. */
export interface PolicyDocument {
  name: string;
  default: string;
  rules: RuleDocument[];
  [key: string]: unknown;
}

/** `field operator value` (no `value` key when it is undefined); `extra` adds keys such as `ignoreCase`. */
export function when(
  field: string,
  operator: string,
  value?: unknown,
  extra: Record<string, unknown> = {},
): ConditionDocument {
  return { field, operator, ...(value === undefined ? {} : { value }), ...extra };
}

/** The rule `name` deciding `effect` when all `conditions` hold; `extra` adds `priority`, `risk`… */
export function rule(
  name: string,
  effect: string,
  reason: string,
  conditions: ConditionDocument[] = [],
  extra: Record<string, unknown> = {},
): RuleDocument {
  return { name, reason, effect, ...extra, conditions };
}

/** `rule(…)` with a `priority`: higher-priority rules are tried first. */
export function rankedRule(priority: number, ...args: Parameters<typeof rule>): RuleDocument {
  const [name, effect, reason, conditions, extra] = args;
  return rule(name, effect, reason, conditions, { priority, ...extra });
}

/** The policy `name` with its default effect and rules; `extra` adds `appliesTo`, `priority`… */
export function policyDocument(
  name: string,
  defaultEffect: string,
  rules: RuleDocument[] = [],
  extra: Record<string, unknown> = {},
): PolicyDocument {
  return { name, default: defaultEffect, rules, ...extra };
}
