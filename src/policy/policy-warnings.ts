/**
 * Warnings about policies that load but may not do what their author meant. They never refuse a
 * file: `vectra policy validate` prints them and the gateway logs them when it loads the set.
 *
 * - A Deny or Hitl rule comparing request.path with its letter case as written: many servers
 *   (Express and ASP.NET by default, anything on a case-insensitive file system) route `/ADMIN`
 *   like `/admin`, so a rule on `/admin` would not hold for a request they treat the same.
 */
import type { Operator } from './operators';
import type { CompiledPolicy } from './policy-file';
import type { PolicyProblem } from './types';

/** Operators that hold for a matching text (not their negations), so case lets text slip by. */
const MATCHING: ReadonlySet<Operator> = new Set([
  'eq',
  'in',
  'contains',
  'startsWith',
  'endsWith',
  'regex',
  'glob',
]);

export function policyWarnings(policy: CompiledPolicy): PolicyProblem[] {
  const warnings: PolicyProblem[] = [];
  for (const rule of policy.rules) {
    if (rule.effect === 'Allow') continue;
    for (const condition of rule.conditions) {
      if (
        condition.field.name === 'request.path' &&
        condition.caseSensitive &&
        MATCHING.has(condition.operator)
      ) {
        warnings.push({
          file: policy.file,
          message:
            `policy ${policy.name}, rule ${rule.name} (${rule.effect}): ${condition.text} compares ` +
            `letter case as written, while many servers route /ADMIN like /admin; add ` +
            `"ignoreCase": true to the condition, or "defaults": { "ignoreCase": true } to the file`,
        });
      }
    }
  }
  return warnings;
}
