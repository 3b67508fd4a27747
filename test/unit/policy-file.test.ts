/**
 * Policy files: the seed format and its extensions load; every problem is reported with the file
 * and where (JSON line and column, or the path inside the document); the shipped examples load.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicyText } from '../../src/policy/policy-file';
import { formatProblem, loadPolicyDirectory } from '../../src/policy/policy-directory';
import { REPO_ROOT } from '../helpers/gateway';
import { tempDir } from '../helpers/temp-dir';

const compile = (doc: unknown) => compilePolicyText('p.json', JSON.stringify(doc, null, 2));
const messages = (doc: unknown) => compile(doc).problems.map(formatProblem);

const SEED = {
  name: 'seed-style',
  description: 'A policy as the seed gateway wrote them.',
  owner: 'platform',
  default: 'Deny',
  rules: [
    {
      name: 'low',
      reason: 'Low priority.',
      priority: 1,
      effect: 'Allow',
      conditions: [{ field: 'method', operator: 'eq', value: 'GET' }],
    },
    {
      name: 'high',
      reason: 'High priority',
      priority: 10,
      effect: 'Hitl',
      risk: 0.4,
      conditions: [{ field: 'path', operator: 'startsWith', value: '/admin' }],
    },
  ],
};

describe('policy files', () => {
  it('compile the seed format, rules sorted by priority, reasons naming policy and rule', () => {
    const { policy, problems } = compile(SEED);
    expect(problems).toEqual([]);
    expect(policy).toMatchObject({
      name: 'seed-style',
      owner: 'platform',
      enabled: true,
      defaultEffect: 'Deny',
      defaultReason: 'Policy seed-style (no rule matched): its default is Deny.',
      readsBody: false,
    });
    expect(policy!.rules.map((r) => r.name)).toEqual(['high', 'low']);
    expect(policy!.rules[0]).toMatchObject({
      reason: 'Policy seed-style (rule high): High priority.',
      risk: 0.4,
    });
    expect(policy!.rules[1].reason).toBe('Policy seed-style (rule low): Low priority.');
  });

  it('accept appliesTo, defaultReason, enabled, ignoreCase and any letter case of effects and operators', () => {
    const { policy, problems } = compile({
      name: 'extended',
      default: 'allow',
      defaultReason: 'Everything else is fine.',
      enabled: false,
      appliesTo: { agents: ['ci-*'], vaults: 'prod', services: ['github'] },
      rules: [
        {
          name: 'r',
          reason: 'x',
          effect: 'HITL',
          conditions: [{ field: 'body.kind', operator: 'NOTIN', value: ['a'], ignoreCase: true }],
        },
      ],
    });
    expect(problems).toEqual([]);
    expect(policy).toMatchObject({ defaultEffect: 'Allow', enabled: false, readsBody: true });
    expect(policy!.defaultReason).toBe(
      'Policy extended (no rule matched): Everything else is fine.',
    );
    expect(policy!.rules[0].effect).toBe('Hitl');
    expect(policy!.appliesTo.agents!.matches('ci-42')).toBe(true);
    expect(policy!.appliesTo.agents!.matches('dev')).toBe(false);
    expect(policy!.appliesTo.vaults!.matches('prod')).toBe(true);
  });

  it('report broken JSON with its line and column', () => {
    const result = compilePolicyText('/etc/p/broken.json', '{\n  "name": "x",\n  "default": }\n');
    expect(result.policy).toBeUndefined();
    expect(result.problems).toHaveLength(1);
    expect(formatProblem(result.problems[0])).toBe(
      "/etc/p/broken.json:3:14: invalid JSON: expected a value, found '}'",
    );
  });

  it.each([
    ['{"a": 1,}', 1, 9, "a comma before '}'"],
    ['{"a": 1 "b": 2}', 1, 9, "expected ',' or '}' after a property value, found '\"'"],
    ["{'a': 1}", 1, 2, 'expected a property name in double quotes'],
    ['{"a": "x\ny"}', 1, 9, 'a line break or control character inside a string'],
    ['{"a": 1}\n{}', 2, 1, "unexpected '{' after the JSON value"],
    ['[1, 2', 1, 6, "expected ',' or ']' after a list element, found the end of the file"],
  ])('locate the error in %j at %i:%i', (text, line, column, message) => {
    const { problems } = compilePolicyText('x.json', text);
    expect(problems[0]).toMatchObject({ line, column });
    expect(problems[0].message).toContain(message);
  });

  it('report truncated JSON at its end', () => {
    const { problems } = compilePolicyText('t.json', '{"name": "x",\n');
    expect(problems[0]).toMatchObject({
      line: 2,
      column: 1,
      message: 'invalid JSON: expected a property name in double quotes, found the end of the file',
    });
  });

  it('report every problem, each with its path', () => {
    const found = messages({
      name: '',
      default: 'Block',
      extra: 1,
      appliesTo: { teams: ['a'], agents: [] },
      rules: [
        {
          name: 'a',
          effect: 'Allow',
          priority: 1.5,
          risk: 2,
          conditions: [
            { field: 'request.cookies', operator: 'eq', value: 'x' },
            { field: 'path', operator: 'equals', value: 'x' },
            { field: 'path', operator: 'regex', value: '(a+)+' },
            { field: 'path', operator: 'regex', value: '(' },
            { field: 'path', operator: 'eq' },
            { field: 'path', operator: 'eq', value: 'x', ignoreCase: 'yes' },
            'nope',
          ],
        },
        { name: 'a', reason: 'dup', effect: 'Deny' },
      ],
    });
    const expected = [
      /^p\.json: extra: is not a known key/,
      /^p\.json: name: is required/,
      /^p\.json: default: must be one of Allow, Deny, Hitl \(got "Block"\)/,
      /^p\.json: appliesTo\.teams: is not a known key/,
      /^p\.json: appliesTo\.agents: must be a name/,
      /^p\.json: rules\[0\]\.reason: is required/,
      /^p\.json: rules\[0\]\.priority: must be a whole number/,
      /^p\.json: rules\[0\]\.risk: must be a number from 0 to 1/,
      /^p\.json: rules\[0\]\.conditions\[0\]\.field: "request\.cookies" is not a field/,
      /^p\.json: rules\[0\]\.conditions\[1\]\.operator: unknown operator "equals" \(known: eq, ne/,
      /^p\.json: rules\[0\]\.conditions\[2\]\.value: regex "\(a\+\)\+" repeats a group/,
      /^p\.json: rules\[0\]\.conditions\[3\]\.value: is not a valid regular expression/,
      /^p\.json: rules\[0\]\.conditions\[4\]\.value: is required for eq/,
      /^p\.json: rules\[0\]\.conditions\[5\]\.ignoreCase: must be true or false/,
      /^p\.json: rules\[0\]\.conditions\[6\]: must be a JSON object/,
      /^p\.json: rules\[1\]\.name: "a" is used twice/,
    ];
    for (const pattern of expected) expect(found).toContainEqual(expect.stringMatching(pattern));
  });

  it('refuse a document that is not an object', () => {
    expect(messages([1, 2])).toEqual(['p.json: (document): must be a JSON object']);
  });

  it('refuse a reason on several lines (one sentence)', () => {
    const doc = { ...SEED, rules: [{ ...SEED.rules[0], reason: 'one\ntwo' }] };
    expect(messages(doc)).toEqual([
      expect.stringMatching(
        /rules\[0\]\.reason: must be text of at most 1000 characters on one line/,
      ),
    ]);
  });
});

describe('policy directories', () => {
  it('load every *.json file in name order and ignore the rest', async () => {
    const dir = tempDir('vectra-policies-');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...SEED, name: 'b' }));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ ...SEED, name: 'a' }));
    writeFileSync(join(dir, 'notes.txt'), 'not a policy');
    const loaded = await loadPolicyDirectory(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.policies.map((p) => p.name)).toEqual(['a', 'b']);
    expect(loaded.files).toEqual([join(dir, 'a.json'), join(dir, 'b.json')]);
  });

  it('refuse a policy name used by two files', async () => {
    const dir = tempDir('vectra-policies-');
    writeFileSync(join(dir, 'a.json'), JSON.stringify(SEED));
    writeFileSync(join(dir, 'b.json'), JSON.stringify(SEED));
    const loaded = await loadPolicyDirectory(dir);
    expect(loaded.problems.map(formatProblem)).toEqual([
      `${join(dir, 'b.json')}: name: policy name "seed-style" is already used by ${join(dir, 'a.json')}`,
    ]);
  });

  it('report a missing directory', async () => {
    const loaded = await loadPolicyDirectory(join(tmpdir(), 'vectra-no-such-dir-xyz'));
    expect(loaded.problems[0].message).toMatch(/cannot be read \(ENOENT\)/);
  });

  it('the shipped examples in policies/ load without a problem', async () => {
    const loaded = await loadPolicyDirectory(join(REPO_ROOT, 'policies'));
    expect(loaded.problems).toEqual([]);
    expect(loaded.policies.map((p) => p.name).sort()).toEqual([
      'approval-for-exports',
      'no-destructive-verbs-on-production',
      'read-only-by-default',
    ]);
    for (const policy of loaded.policies) expect(policy.description).toBeTruthy();
  });
});
