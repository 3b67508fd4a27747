/**
 * Condition operators. A condition is compiled once, when its policy loads, into a test function
 * (regexes built, globs and CIDRs parsed, `in` lists turned into sets); the hot path only calls
 * it. The comparison rules policy authors rely on:
 *
 * - Strings compare case-sensitively, unless the condition says `"ignoreCase": true` (or its
 *   file's `defaults` do, see ./policy-file.ts). The normalised fields request.method,
 *   request.host and request.scheme always ignore case.
 * - When both sides read as numbers (a JSON number, or a string such as `"8080"` or `"1.5"`),
 *   they compare as numbers: `request.port eq "443"` holds for port 443, `query.page gt 2` for
 *   `?page=10`. gt, lt, ge and le only ever compare numbers.
 * - true and false equal the strings "true" and "false" (a query parameter is always a string).
 * - A field holding a list (a repeated query parameter, a JSON array) satisfies an operator when
 *   one of its elements does; `contains` on a list means "has this element".
 * - A missing field satisfies no operator except `ne` and `notIn` (the negations of `eq` and
 *   `in`) and `exists` with value false.
 */
import { BoundedMemo } from '../bounded-memo';
import { parseAddress, parseCidr, contains as cidrContains, type Cidr } from '../http/cidr';
import type { FieldRef } from './fields';
import { fieldReader } from './fields';
import { compileGlob } from '../glob';
import { REGEX_INPUT_LIMIT, unsafeRegexReason } from './safe-regex';
import type { PolicyInput } from './types';

export const OPERATORS = [
  'eq',
  'ne',
  'gt',
  'lt',
  'ge',
  'le',
  'in',
  'notIn',
  'contains',
  'startsWith',
  'endsWith',
  'regex',
  'glob',
  'cidr',
  'exists',
] as const;
export type Operator = (typeof OPERATORS)[number];

/** The operators that compare numbers, addresses or presence rather than text. */
const NOT_TEXT_OPERATORS = new Set<Operator>(['gt', 'lt', 'ge', 'le', 'cidr', 'exists']);

/** Whether `op` compares text, so that `ignoreCase` applies to it. */
export function comparesText(op: Operator): boolean {
  return !NOT_TEXT_OPERATORS.has(op);
}

/** The operator `text` names (any letter case), or undefined. */
export function operatorNamed(text: string): Operator | undefined {
  return OPERATORS.find((op) => op.toLowerCase() === text.toLowerCase());
}

export interface ConditionSpec {
  field: FieldRef;
  operator: Operator;
  value: unknown;
  ignoreCase: boolean;
}

export interface CompiledCondition {
  /** The condition in words (`request.method in ["GET","HEAD"]`), for explanations. */
  readonly text: string;
  readonly field: FieldRef;
  readonly operator: Operator;
  /** The text compared as written (no `ignoreCase`, and a field that is not normalised). */
  readonly caseSensitive: boolean;
  test(input: PolicyInput): boolean;
}

/** A condition's value (or option) that cannot be used; `key` names the offending property. */
export class ConditionProblem extends Error {
  constructor(
    readonly key: 'value' | 'ignoreCase',
    message: string,
  ) {
    super(message);
  }
}

/** Thrown while evaluating when a condition cannot be judged; the policy then denies (fail closed). */
export class PolicyEvaluationError extends Error {}

type Predicate = (value: unknown) => boolean;

export function compileCondition(spec: ConditionSpec): CompiledCondition {
  const { field, operator, value } = spec;
  if (spec.ignoreCase && !comparesText(operator)) {
    throw new ConditionProblem('ignoreCase', `ignoreCase does not apply to ${operator}`);
  }
  const ignoreCase = spec.ignoreCase || field.caseInsensitive;
  const test = predicate(operator, value, ignoreCase, field);
  const read = fieldReader(field.segments);
  return {
    text: describe(field.name, operator, value, spec.ignoreCase),
    field,
    operator,
    caseSensitive: comparesText(operator) && !ignoreCase,
    test: (input) => test(read(input)),
  };
}

/**
 * The test of one operator. Written for the hot path: everything that depends only on the
 * condition is computed here, once; the per-value test is a function made here too (no closure
 * or key string allocated per call).
 */
function predicate(op: Operator, value: unknown, ignoreCase: boolean, field: FieldRef): Predicate {
  switch (op) {
    case 'eq':
    case 'ne': {
      const equals = scalarMatcher([requireScalar(value)], ignoreCase);
      return op === 'eq' ? (actual) => some(actual, equals) : (actual) => !some(actual, equals);
    }
    case 'in':
    case 'notIn': {
      const isIn = scalarMatcher(requireScalarList(value), ignoreCase);
      return op === 'in' ? (actual) => some(actual, isIn) : (actual) => !some(actual, isIn);
    }
    case 'gt':
    case 'lt':
    case 'ge':
    case 'le': {
      const bound = numberOf(value);
      if (bound === undefined) throw new ConditionProblem('value', `${op} needs a number`);
      const compare = COMPARE[op];
      const one: Predicate = (v) => {
        const n = numberOf(v);
        return n !== undefined && compare(n, bound);
      };
      return (actual) => some(actual, one);
    }
    case 'contains': {
      const needle = requireScalar(value);
      if (needle === null) throw new ConditionProblem('value', 'contains needs a value, not null');
      const element = scalarMatcher([needle], ignoreCase);
      const text = fold(String(needle), ignoreCase);
      return (actual) => {
        if (Array.isArray(actual)) return actual.some(element);
        const haystack = textOf(actual);
        return haystack !== undefined && fold(haystack, ignoreCase).includes(text);
      };
    }
    case 'startsWith':
    case 'endsWith': {
      const affix = fold(requireString(value, op), ignoreCase);
      const one: Predicate =
        op === 'startsWith'
          ? (v) => {
              const text = textOf(v);
              return text !== undefined && fold(text, ignoreCase).startsWith(affix);
            }
          : (v) => {
              const text = textOf(v);
              return text !== undefined && fold(text, ignoreCase).endsWith(affix);
            };
      return (actual) => some(actual, one);
    }
    case 'regex': {
      const regex = compileRegex(requireString(value, op), ignoreCase);
      const one: Predicate = (v) => {
        const text = textOf(v);
        if (text === undefined) return false;
        if (text.length > REGEX_INPUT_LIMIT) {
          throw new PolicyEvaluationError(
            `${field.name} is longer than ${REGEX_INPUT_LIMIT} characters, the limit for regex conditions`,
          );
        }
        return regex.test(text);
      };
      return (actual) => some(actual, one);
    }
    case 'glob': {
      const glob = compileGlob(requireString(value, op), { ignoreCase });
      const one: Predicate = (v) => {
        const text = textOf(v);
        return text !== undefined && glob.matches(text);
      };
      return (actual) => some(actual, one);
    }
    case 'cidr': {
      const blocks = compileCidrs(value);
      // The same few addresses recur (request.host): remember their verdicts.
      const verdicts = new BoundedMemo<string, boolean>(256);
      const inBlocks = (v: string): boolean => {
        const address = parseAddress(v);
        return address !== undefined && blocks.some((b) => cidrContains(b, address));
      };
      const one: Predicate = (v) => typeof v === 'string' && verdicts.get(v, inBlocks);
      return (actual) => some(actual, one);
    }
    case 'exists': {
      if (value !== undefined && typeof value !== 'boolean') {
        throw new ConditionProblem('value', 'exists takes true, false or no value');
      }
      const wanted = value !== false;
      return (actual) => (actual !== undefined && actual !== null) === wanted;
    }
  }
}

/**
 * Whether a scalar equals one of `wanted`, by the equality rules above (numbers by value, also
 * when written as strings; booleans as their words; strings folded when ignoring case), without
 * building a key string per call.
 */
function scalarMatcher(wanted: readonly Scalar[], ignoreCase: boolean): Predicate {
  const numbers = new Set<number>();
  const strings = new Set<string>();
  let hasNull = false;
  for (const item of wanted) {
    const n = numberOf(item);
    if (n !== undefined) numbers.add(n);
    else if (typeof item === 'string') strings.add(fold(item, ignoreCase));
    else if (typeof item === 'boolean') strings.add(String(item));
    else if (item === null) hasNull = true;
  }
  return (v) => {
    if (typeof v === 'string') {
      const n = numberOf(v);
      return n !== undefined ? numbers.has(n) : strings.has(fold(v, ignoreCase));
    }
    if (typeof v === 'number') return Number.isFinite(v) && numbers.has(v);
    if (typeof v === 'boolean') return strings.has(v ? 'true' : 'false');
    return v === null && hasNull;
  };
}

const COMPARE: Record<'gt' | 'lt' | 'ge' | 'le', (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b,
  lt: (a, b) => a < b,
  ge: (a, b) => a >= b,
  le: (a, b) => a <= b,
};

/** A list field holds when one element does; a missing field never does. */
function some(actual: unknown, test: Predicate): boolean {
  if (actual === undefined) return false;
  return Array.isArray(actual) ? actual.some(test) : test(actual);
}

const NUMERIC = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  // Most strings compared are words (methods, hosts, names): one character rules them out.
  if (typeof value === 'string' && mayBeNumber(value) && NUMERIC.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Whether `text` starts like a number (digit, sign or point), before the full regex test. */
function mayBeNumber(text: string): boolean {
  const c = text.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** The last text folded: conditions in a row often fold the same field (request.path). */
let foldedFrom = '';
let foldedTo = '';

function fold(text: string, ignoreCase: boolean): string {
  if (!ignoreCase) return text;
  if (text !== foldedFrom) {
    foldedFrom = text;
    foldedTo = text.toLowerCase();
  }
  return foldedTo;
}

type Scalar = string | number | boolean | null;

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function requireScalar(value: unknown): Scalar {
  if (!isScalar(value)) {
    throw new ConditionProblem('value', 'must be a string, a number, true, false or null');
  }
  return value;
}

function requireScalarList(value: unknown): Scalar[] {
  if (!Array.isArray(value) || !value.every(isScalar)) {
    throw new ConditionProblem('value', 'must be a list of strings, numbers, booleans or null');
  }
  return value;
}

function requireString(value: unknown, op: Operator): string {
  if (typeof value !== 'string' || value === '') {
    throw new ConditionProblem('value', `${op} needs a non-empty string`);
  }
  return value;
}

function compileRegex(pattern: string, ignoreCase: boolean): RegExp {
  const unsafe = unsafeRegexReason(pattern, ignoreCase);
  if (unsafe) throw new ConditionProblem('value', `regex ${JSON.stringify(pattern)} ${unsafe}`);
  try {
    return new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (err) {
    throw new ConditionProblem(
      'value',
      `is not a valid regular expression: ${(err as Error).message}`,
    );
  }
}

function compileCidrs(value: unknown): Cidr[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) {
    throw new ConditionProblem('value', 'cidr needs a CIDR block or a list of them (10.0.0.0/8)');
  }
  try {
    return list.map((text: string) => parseCidr(text));
  } catch (err) {
    throw new ConditionProblem('value', (err as Error).message);
  }
}

function describe(field: string, op: Operator, value: unknown, ignoreCase: boolean): string {
  if (op === 'exists') return value === false ? `${field} does not exist` : `${field} exists`;
  return `${field} ${op} ${JSON.stringify(value)}${ignoreCase ? ' (ignoring case)' : ''}`;
}
