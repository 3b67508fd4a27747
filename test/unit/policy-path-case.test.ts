/**
 * Letter case of paths: a policy file's `defaults.ignoreCase` folds case in every condition that
 * compares text (a condition may still say otherwise), and a Deny or Hitl rule that compares
 * request.path case-sensitively is warned about, since many upstreams route /ADMIN like /admin.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluatePolicies, policySet } from '../../src/policy/evaluate';
import { compilePolicyText } from '../../src/policy/policy-file';
import { formatProblem, loadPolicyDirectory } from '../../src/policy/policy-directory';
import { policyWarnings } from '../../src/policy/policy-warnings';
import { REPO_ROOT } from '../helpers/gateway';
import { pathInput } from '../helpers/policy-input';

const ADMIN_RULE = {
  name: 'no-admin',
  reason: 'The admin API is off limits',
  effect: 'Deny',
  conditions: [{ field: 'request.path', operator: 'startsWith', value: '/admin' }],
};

function compile(doc: Record<string, unknown>) {
  return compilePolicyText('p.json', JSON.stringify({ name: 'p', default: 'Allow', ...doc }));
}

function decide(doc: Record<string, unknown>, path: string, port = 443) {
  const { policy, problems } = compile(doc);
  expect(problems).toEqual([]);
  return evaluatePolicies(policySet([policy!]), pathInput(path, port)).effect;
}

describe('defaults.ignoreCase', () => {
  it('folds case in every condition that compares text', () => {
    const doc = { defaults: { ignoreCase: true }, rules: [ADMIN_RULE] };
    expect(decide(doc, '/ADMIN/users')).toBe('Deny');
    expect(decide(doc, '/Admin/users')).toBe('Deny');
    expect(decide(doc, '/public')).toBe('Allow');
    // Without it, the path compares as written.
    expect(decide({ rules: [ADMIN_RULE] }, '/ADMIN/users')).toBe('Allow');
  });

  it('yields to a condition that says otherwise', () => {
    const rule = {
      ...ADMIN_RULE,
      conditions: [{ ...ADMIN_RULE.conditions[0], ignoreCase: false }],
    };
    expect(decide({ defaults: { ignoreCase: true }, rules: [rule] }, '/ADMIN/users')).toBe('Allow');
  });

  it('leaves operators that do not compare text alone', () => {
    const rule = {
      ...ADMIN_RULE,
      conditions: [
        { field: 'request.port', operator: 'gt', value: 8000 },
        { field: 'request.path', operator: 'regex', value: '^/admin/' },
      ],
    };
    const doc = { defaults: { ignoreCase: true }, rules: [rule] };
    expect(decide(doc, '/Admin/x', 8080)).toBe('Deny');
    expect(decide(doc, '/Admin/x', 443)).toBe('Allow');
  });

  it('must be true or false, and defaults knows no other key', () => {
    const found = compile({ defaults: { ignoreCase: 'yes', case: 1 } }).problems.map(formatProblem);
    expect(found).toEqual([
      expect.stringMatching(/^p\.json: defaults\.case: is not a known key \(known: ignoreCase\)/),
      'p.json: defaults.ignoreCase: must be true or false',
    ]);
  });
});

describe('warnings on case-sensitive path rules', () => {
  const warnings = (doc: Record<string, unknown>) =>
    policyWarnings(compile(doc).policy!).map(formatProblem);

  it('warn about a Deny (or Hitl) comparing request.path case-sensitively', () => {
    expect(warnings({ rules: [ADMIN_RULE] })).toEqual([
      expect.stringMatching(
        /^p\.json: policy p, rule no-admin \(Deny\): request\.path startsWith "\/admin" compares letter case.*\/ADMIN.*"ignoreCase": true.*"defaults"/,
      ),
    ]);
    expect(warnings({ rules: [{ ...ADMIN_RULE, effect: 'Hitl' }] })).toHaveLength(1);
  });

  it('stay quiet when case is ignored, or the rule allows', () => {
    expect(warnings({ defaults: { ignoreCase: true }, rules: [ADMIN_RULE] })).toEqual([]);
    const folded = {
      ...ADMIN_RULE,
      conditions: [{ ...ADMIN_RULE.conditions[0], ignoreCase: true }],
    };
    expect(warnings({ rules: [folded] })).toEqual([]);
    expect(warnings({ rules: [{ ...ADMIN_RULE, effect: 'Allow' }] })).toEqual([]);
    const method = {
      ...ADMIN_RULE,
      conditions: [{ field: 'method', operator: 'eq', value: 'GET' }],
    };
    expect(warnings({ rules: [method] })).toEqual([]);
  });

  it('are carried by a loaded directory; the shipped policies have none', async () => {
    const loaded = await loadPolicyDirectory(join(REPO_ROOT, 'policies'));
    expect(loaded.problems).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    // Those with path rules fold case file-wide.
    const documents = loaded.files.map((file) => JSON.parse(readFileSync(file, 'utf8')));
    const withPaths = documents.filter((doc: { rules: Array<{ conditions: unknown[] }> }) =>
      doc.rules.some((rule) =>
        rule.conditions.some((c) =>
          ['path', 'request.path'].includes((c as { field: string }).field),
        ),
      ),
    );
    expect(withPaths.length).toBeGreaterThan(0);
    for (const doc of withPaths) expect(doc).toMatchObject({ defaults: { ignoreCase: true } });
  });
});
