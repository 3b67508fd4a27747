/**
 * One policy file: JSON in the seed's format, checked strictly and compiled once. Every problem
 * is collected (not just the first), each naming the file and where: a line and column for
 * broken JSON, a path such as `rules[1].conditions[0].operator` otherwise.
 *
 *   { "name", "description"?, "owner"?, "enabled"? (default true),
 *     "default": "Allow" | "Deny" | "Hitl", "defaultReason"?,
 *     "defaults"?: { "ignoreCase"? },   // for every condition whose operator compares text
 *     "appliesTo"?: { "agents"?, "vaults"?, "services"? },   // names or globs; default all
 *     "rules": [ { "name", "description"?, "reason", "priority"? (default 0, higher first),
 *                  "effect", "risk"? (0..1), "onUnreadableBody"? ("refuse" | "ignore"),
 *                  "conditions": [ { "field", "operator", "value"?, "ignoreCase"? } ] } ] }
 */
import { resolveField } from './fields';
import { compileGlob, isGlob } from '../glob';
import { locateJsonError } from './json-position';
import {
  comparesText,
  compileCondition,
  ConditionProblem,
  operatorNamed,
  OPERATORS,
  type CompiledCondition,
} from './operators';
import { POLICY_EFFECTS, type PolicyEffect, type PolicyProblem } from './types';
import {
  ON_UNREADABLE_BODY,
  refusingUnreadableBody,
  type OnUnreadableBody,
} from './unreadable-body';

export interface CompiledRule {
  readonly name: string;
  readonly priority: number;
  readonly effect: PolicyEffect;
  readonly risk?: number;
  /** The decision's reason: `Policy <p> (rule <r>): <the author's sentence>` */
  readonly reason: string;
  readonly conditions: readonly CompiledCondition[];
}

export interface NameMatcher {
  readonly patterns: readonly string[];
  matches(name: string | null | undefined): boolean;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly description?: string;
  readonly owner?: string;
  readonly file: string;
  readonly enabled: boolean;
  readonly defaultEffect: PolicyEffect;
  readonly defaultReason: string;
  readonly appliesTo: {
    readonly agents?: NameMatcher;
    readonly vaults?: NameMatcher;
    readonly services?: NameMatcher;
  };
  /** Highest priority first; file order among equals. */
  readonly rules: readonly CompiledRule[];
  readonly readsBody: boolean;
}

export interface CompileResult {
  policy?: CompiledPolicy;
  problems: PolicyProblem[];
}

const MAX_NAME = 100;
const MAX_TEXT = 1000;

/** Parses and compiles the text of `file` (a name used in problems). */
export function compilePolicyText(file: string, text: string): CompileResult {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let document: unknown;
  try {
    document = JSON.parse(source);
  } catch (err) {
    return { problems: [jsonProblem(file, source, err as Error)] };
  }
  return compilePolicyDocument(file, document);
}

export function compilePolicyDocument(file: string, document: unknown): CompileResult {
  const problem = new Report(file);
  const { problems } = problem;
  const doc = object(document, '', problem, [
    'name',
    'description',
    'owner',
    'enabled',
    'default',
    'defaultReason',
    'appliesTo',
    'rules',
    'defaults',
  ]);
  if (!doc) return { problems };
  const defaults = conditionDefaults(doc.defaults, problem);

  const name = requiredName(doc.name, 'name', problem);
  const description = optionalText(doc.description, 'description', problem);
  const owner = optionalText(doc.owner, 'owner', problem);
  const defaultReason = optionalText(doc.defaultReason, 'defaultReason', problem);
  const enabled = doc.enabled === undefined ? true : doc.enabled;
  if (typeof enabled !== 'boolean') problem.add('enabled', 'must be true or false');
  const defaultEffect = effect(doc.default, 'default', problem);
  const appliesTo = compileAppliesTo(doc.appliesTo, problem);

  const rules: Array<CompiledRule & { index: number }> = [];
  const ruleList = doc.rules === undefined ? [] : doc.rules;
  if (!Array.isArray(ruleList)) problem.add('rules', 'must be a list of rules');
  else {
    const seen = new Set<string>();
    ruleList.forEach((raw, index) => {
      const ruleName = (raw as { name?: unknown } | null)?.name;
      if (typeof ruleName === 'string') {
        if (seen.has(ruleName.trim())) {
          problem.add(`rules[${index}].name`, `"${ruleName}" is used twice`);
        }
        seen.add(ruleName.trim());
      }
      const rule = compileRule(raw, `rules[${index}]`, name ?? '?', problem, defaults);
      if (rule) rules.push({ ...rule, index });
    });
  }
  if (problems.length > 0 || name === undefined || defaultEffect === undefined) return { problems };

  rules.sort((a, b) => b.priority - a.priority || a.index - b.index);
  const policy: CompiledPolicy = {
    name,
    ...(description === undefined ? {} : { description }),
    ...(owner === undefined ? {} : { owner }),
    file,
    enabled: enabled as boolean,
    defaultEffect,
    defaultReason: defaultReason
      ? `Policy ${name} (no rule matched): ${sentence(defaultReason)}`
      : `Policy ${name} (no rule matched): its default is ${defaultEffect}.`,
    appliesTo,
    rules: rules.map(({ index: _index, ...rule }) => rule),
    readsBody: rules.some((rule) => rule.conditions.some((c) => c.field.readsBody)),
  };
  return { policy, problems };
}

/** Collects the problems of one file. */
class Report {
  readonly problems: PolicyProblem[] = [];
  constructor(private readonly file: string) {}
  add(path: string, message: string): void {
    this.problems.push({ file: this.file, path, message });
  }
  get count(): number {
    return this.problems.length;
  }
}

function compileRule(
  raw: unknown,
  at: string,
  policy: string,
  problem: Report,
  defaults: ConditionDefaults,
): CompiledRule | undefined {
  const rule = object(raw, at, problem, [
    'name',
    'description',
    'reason',
    'priority',
    'effect',
    'risk',
    'onUnreadableBody',
    'conditions',
  ]);
  if (!rule) return undefined;
  const before = problem.count;
  const name = requiredName(rule.name, `${at}.name`, problem);
  optionalText(rule.description, `${at}.description`, problem);
  const reason = requiredText(rule.reason, `${at}.reason`, problem);
  const priority = rule.priority === undefined ? 0 : rule.priority;
  if (!Number.isInteger(priority)) problem.add(`${at}.priority`, 'must be a whole number');
  const ruleEffect = effect(rule.effect, `${at}.effect`, problem);
  const risk = rule.risk;
  if (risk !== undefined && !(typeof risk === 'number' && risk >= 0 && risk <= 1)) {
    problem.add(`${at}.risk`, 'must be a number from 0 to 1');
  }
  const conditions: CompiledCondition[] = [];
  const list = rule.conditions === undefined ? [] : rule.conditions;
  if (!Array.isArray(list)) problem.add(`${at}.conditions`, 'must be a list of conditions');
  else {
    list.forEach((c, i) => {
      const where = `policy ${policy}, rule ${typeof rule.name === 'string' ? rule.name : '?'}`;
      const compiled = compileConditionAt(c, `${at}.conditions[${i}]`, problem, defaults, where);
      if (compiled) conditions.push(compiled);
    });
  }
  const onUnreadable = onUnreadableBody(rule.onUnreadableBody, conditions, at, problem);
  if (problem.count > before || !name || !reason || !ruleEffect) return undefined;
  return {
    name,
    priority: priority as number,
    effect: ruleEffect,
    ...(risk === undefined ? {} : { risk: risk as number }),
    reason: `Policy ${policy} (rule ${name}): ${sentence(reason)}`,
    conditions: onUnreadable === 'ignore' ? conditions : conditions.map(refusingUnreadableBody),
  };
}

/**
 * What a rule does with a body it cannot judge (over Policy.MaxBodyBytes, or not JSON): `refuse`
 * the request (the default), or `ignore` it and judge the body as absent. Only for rules that
 * read `request.body`.
 */
function onUnreadableBody(
  raw: unknown,
  conditions: readonly CompiledCondition[],
  at: string,
  problem: Report,
): OnUnreadableBody {
  if (raw === undefined) return 'refuse';
  const value = ON_UNREADABLE_BODY.find((v) => v === raw);
  if (!value) {
    problem.add(`${at}.onUnreadableBody`, `must be one of ${ON_UNREADABLE_BODY.join(', ')}`);
  } else if (!conditions.some((c) => c.field.readsBody)) {
    problem.add(`${at}.onUnreadableBody`, 'applies only to a rule with a request.body condition');
  }
  return value ?? 'refuse';
}

function compileConditionAt(
  raw: unknown,
  at: string,
  problem: Report,
  defaults: ConditionDefaults,
  where: string,
): CompiledCondition | undefined {
  const c = object(raw, at, problem, ['field', 'operator', 'value', 'ignoreCase']);
  if (!c) return undefined;
  let field;
  if (typeof c.field !== 'string') problem.add(`${at}.field`, 'is required (a field name)');
  else {
    field = resolveField(c.field);
    if (typeof field === 'string') {
      problem.add(`${at}.field`, field);
      field = undefined;
    }
  }
  const operator = typeof c.operator === 'string' ? operatorNamed(c.operator) : undefined;
  if (!operator) {
    const got = typeof c.operator === 'string' ? `unknown operator "${c.operator}"` : 'is required';
    problem.add(`${at}.operator`, `${got} (known: ${OPERATORS.join(', ')})`);
  }
  if (c.ignoreCase !== undefined && typeof c.ignoreCase !== 'boolean') {
    problem.add(`${at}.ignoreCase`, 'must be true or false');
    return undefined;
  }
  if (c.value === undefined && operator !== undefined && operator !== 'exists') {
    problem.add(`${at}.value`, `is required for ${operator}`);
    return undefined;
  }
  if (!field || !operator) return undefined;
  // The file's default applies where it can; written on the condition, it must fit the operator.
  const ignoreCase =
    c.ignoreCase === undefined ? defaults.ignoreCase && comparesText(operator) : c.ignoreCase;
  try {
    return compileCondition({ field, operator, value: c.value, ignoreCase });
  } catch (err) {
    if (!(err instanceof ConditionProblem)) throw err;
    problem.add(`${at}.${err.key}`, `${err.message} (${where}, field ${field.name})`);
    return undefined;
  }
}

interface ConditionDefaults {
  ignoreCase: boolean;
}

/** `defaults`: what a condition that does not say otherwise assumes. */
function conditionDefaults(raw: unknown, problem: Report): ConditionDefaults {
  if (raw === undefined) return { ignoreCase: false };
  const defaults = object(raw, 'defaults', problem, ['ignoreCase']);
  const ignoreCase = defaults?.ignoreCase ?? false;
  if (typeof ignoreCase !== 'boolean') problem.add('defaults.ignoreCase', 'must be true or false');
  return { ignoreCase: ignoreCase === true };
}

function compileAppliesTo(raw: unknown, problem: Report): CompiledPolicy['appliesTo'] {
  if (raw === undefined) return {};
  const applies = object(raw, 'appliesTo', problem, ['agents', 'vaults', 'services']);
  if (!applies) return {};
  const result: { agents?: NameMatcher; vaults?: NameMatcher; services?: NameMatcher } = {};
  for (const key of ['agents', 'vaults', 'services'] as const) {
    const value = applies[key];
    if (value === undefined) continue;
    const list = typeof value === 'string' ? [value] : value;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((v) => typeof v === 'string' && v)
    ) {
      problem.add(`appliesTo.${key}`, 'must be a name, a glob (ci-*) or a non-empty list of them');
      continue;
    }
    result[key] = nameMatcher(list as string[]);
  }
  return result;
}

function nameMatcher(patterns: string[]): NameMatcher {
  const exact = new Set(patterns.filter((p) => !isGlob(p)));
  const globs = patterns.filter(isGlob).map((p) => compileGlob(p));
  return {
    patterns,
    matches: (name) =>
      typeof name === 'string' && (exact.has(name) || globs.some((g) => g.matches(name))),
  };
}

function object(
  raw: unknown,
  at: string,
  problem: Report,
  known: readonly string[],
): Record<string, unknown> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problem.add(at || '(document)', 'must be a JSON object');
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      problem.add(at ? `${at}.${key}` : key, `is not a known key (known: ${known.join(', ')})`);
    }
  }
  return raw as Record<string, unknown>;
}

function effect(raw: unknown, at: string, problem: Report): PolicyEffect | undefined {
  const found =
    typeof raw === 'string'
      ? POLICY_EFFECTS.find((e) => e.toLowerCase() === raw.toLowerCase())
      : undefined;
  if (!found) {
    problem.add(
      at,
      `must be one of ${POLICY_EFFECTS.join(', ')}${raw === undefined ? '' : ` (got ${JSON.stringify(raw)})`}`,
    );
  }
  return found;
}

function requiredName(raw: unknown, at: string, problem: Report): string | undefined {
  if (
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    raw.length > MAX_NAME ||
    /\p{Cc}/u.test(raw)
  ) {
    problem.add(
      at,
      `is required: a name of 1 to ${MAX_NAME} characters without control characters`,
    );
    return undefined;
  }
  return raw.trim();
}

function requiredText(raw: unknown, at: string, problem: Report): string | undefined {
  if (raw === undefined || (typeof raw === 'string' && raw.trim() === '')) {
    problem.add(at, 'is required: one sentence saying why');
    return undefined;
  }
  return optionalText(raw, at, problem);
}

function optionalText(raw: unknown, at: string, problem: Report): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length > MAX_TEXT || /\p{Cc}/u.test(raw)) {
    problem.add(at, `must be text of at most ${MAX_TEXT} characters on one line`);
    return undefined;
  }
  return raw.trim();
}

/** The author's sentence as written, with a final period when it has no end punctuation. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** A JSON syntax error with its line and column. */
function jsonProblem(file: string, text: string, err: Error): PolicyProblem {
  const located = locateJsonError(text);
  if (located) {
    const { line, column, message } = located;
    return { file, line, column, message: `invalid JSON: ${message}` };
  }
  return { file, message: `invalid JSON: ${err.message}` };
}
