/**
 * Regular expressions in policies run on every request against text an agent chooses, so a
 * pattern that can backtrack catastrophically (ReDoS) would let one request stall the gateway.
 * RE2 would rule that out by construction but is not installed; instead every pattern is checked
 * statically when the policy loads, and refused when it has one of the shapes behind exponential
 * backtracking:
 *
 * - a repeated group that itself holds a quantifier: `(a+)+`, `(\w*\s?)*`, `(a?){20}`;
 * - a repeated group that holds an alternation: `(a|ab)*` (overlapping branches);
 * - a backreference (`\1`, `\k<name>`), which no linear engine can run.
 *
 * A group repeated at most once (`(…)?`) is fine. This also refuses some harmless patterns
 * (`^[a-z]+(\.[a-z]+)*$`); write those as a glob, or without the repeated group. Patterns that
 * would take polynomial time (`.*a.*a.*b`: repetitions that can share the same text) are
 * refused by ./regex-runs.ts. The text a regex condition reads is capped as well
 * (REGEX_INPUT_LIMIT, enforced by ./operators.ts): longer text cannot be judged, and the rule
 * holding the condition refuses the request, whatever its effect.
 */
import { groupPrefixLength, polynomialReason, readQuantifier, skipClass } from './regex-runs';

/** Longest pattern accepted. */
export const REGEX_PATTERN_LIMIT = 1024;
/** Longest text a regex condition reads; longer text makes the condition fail closed. */
export const REGEX_INPUT_LIMIT = 8192;

interface Group {
  /** The group holds a quantifier (directly or in a nested group). */
  quantified: boolean;
  /** The group holds `|` at its own level. */
  alternation: boolean;
}

/** Why `pattern` (with the `i` flag when `ignoreCase`) is refused, or undefined when acceptable. */
export function unsafeRegexReason(pattern: string, ignoreCase = false): string | undefined {
  if (pattern.length > REGEX_PATTERN_LIMIT) {
    return `is longer than ${REGEX_PATTERN_LIMIT} characters`;
  }
  const stack: Group[] = [{ quantified: false, alternation: false }];
  /** The atom a following quantifier applies to: a closed group, or anything else. */
  let last: Group | 'atom' | undefined;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[i + 2] === '<')) {
        return 'uses a backreference, which can backtrack catastrophically';
      }
      i += 2;
      last = 'atom';
      continue;
    }
    if (c === '[') {
      i = skipClass(pattern, i);
      last = 'atom';
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      i += pattern.startsWith('(?', i) ? groupPrefixLength(pattern, i) : 1;
      last = undefined;
      continue;
    }
    if (c === ')') {
      const closed = stack.length > 1 ? stack.pop()! : undefined;
      if (closed?.quantified) stack[stack.length - 1].quantified = true;
      last = closed ?? 'atom';
      i += 1;
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1].alternation = true;
      last = undefined;
      i += 1;
      continue;
    }
    const quantifier = readQuantifier(pattern, i);
    if (quantifier) {
      if (quantifier.max > 1 && last !== undefined && last !== 'atom') {
        if (last.quantified) {
          return `repeats a group that holds a quantifier (like (a+)+), which can backtrack catastrophically`;
        }
        if (last.alternation) {
          return `repeats a group that holds an alternation (like (a|ab)*), which can backtrack catastrophically; use a character class instead`;
        }
      }
      stack[stack.length - 1].quantified = true;
      i += quantifier.length;
      if (pattern[i] === '?') i += 1; // lazy
      last = 'atom';
      continue;
    }
    last = 'atom';
    i += 1;
  }
  return polynomialReason(pattern, ignoreCase);
}
