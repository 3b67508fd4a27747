/**
 * The regex safety check against polynomial backtracking: repetitions that can share the same
 * text are refused at load (naming the file, rule and field), the patterns policies commonly
 * use still load, and text over the input cap makes the rule refuse, whatever its effect.
 */
import { evaluatePolicies, policySet } from '../../src/policy/evaluate';
import { compilePolicyText } from '../../src/policy/policy-file';
import { formatProblem } from '../../src/policy/policy-directory';
import { REGEX_INPUT_LIMIT, unsafeRegexReason } from '../../src/policy/safe-regex';
import { pathInput } from '../helpers/policy-input';

const REFUSED = [
  '^.*a.*a.*a.*a.*b$',
  '^.*a.*a.*b$',
  '^.*a.*b$',
  '^.*a.*$',
  '^.*a[^a]*a.*b$', // the outer two share the text around the middle
  '^(?:a.*)?b.*c',
  '^[^/]*(?:/|x)[^/]*y$', // the branch that is not taken cannot end a run
  '^[a-z]+-?[a-z]*$',
  '^\\w+\\d*x',
  '.*x|y', // unanchored: the search from every position, then .*
  '[0-9]+\\.json$',
  '\\d+x',
  '(?:ab)+c',
  '^.{2,}a.{3,}b$',
  '(?=.*a)b',
  'a?a?a?a?a?a?a?a?a?a?aaaaaaaaaa',
];

const ACCEPTED = [
  '^/v1/[a-z]+$',
  '^(GET|POST)$',
  '^/repos/[^/]+/[^/]+/(hooks|keys)',
  '^/repos/[^/]+/[^/]+$',
  '^/repos/([^/]+)/([^/]+)/hooks',
  '^([^/]+)(/)([^/]+)x$', // a group around what ends a run still ends it
  '^/v[0-9]+/(reports|dumps|backups)/',
  '(^|\\.)(prod|production)\\.',
  '(^|\\.)github\\.com$',
  '\\.(pem|key|p12|pfx|kdbx|jks)$',
  'sqlmap|nikto|nmap|masscan|zgrab',
  '^.*a[^a]*a[^a]*b$',
  '^.*[^0-9][0-9]+\\.json$',
  '^[^?]*\\.php$',
  '/v[0-9]+/',
  '^/api/.*/admin',
  '^/admin(/|$)',
  '^v\\d+(\\.\\d+)?$',
  '^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$',
  '^https?://[^/]+/',
  '^\\w+@\\w+\\.com$',
  '^(.+\\.)?prod\\.',
  '^.*a.*', // nothing after the second .* can fail
  '\\d+',
  '(?:ab)+',
  'DROP',
];

describe('regex safety: polynomial backtracking', () => {
  it.each(REFUSED)('refuses %s', (pattern) => {
    expect(unsafeRegexReason(pattern)).toMatch(/polynomial time|too long/);
  });

  it.each(ACCEPTED)('accepts %s', (pattern) => {
    expect(unsafeRegexReason(pattern)).toBeUndefined();
  });

  it('compares characters with the flags the pattern runs with', () => {
    // Case-sensitively [^a] matches A, so nothing stops the first run at the A.
    expect(unsafeRegexReason('^[^a]*A[^a]*x$')).toMatch(/polynomial time/);
    expect(unsafeRegexReason('^[^a]*A[^a]*x$', true)).toBeUndefined();
    expect(unsafeRegexReason('^.*a[^a]*b$', true)).toBeUndefined();
  });

  it('explains the rule and the way out', () => {
    expect(unsafeRegexReason('^.*a.*a.*a.*a.*b$')).toMatch(
      /\.\* and \.\* can share the same text.*\(\.\*a\[\^a\]\*b\)/,
    );
    expect(unsafeRegexReason('[0-9]+\\.json$')).toMatch(/every position.*anchor the pattern/);
  });

  it('checks a long pattern quickly', () => {
    // Many repetitions, none sharing characters with a neighbour: every pair is looked at.
    const pattern = `^${'[^/]+/'.repeat(120)}x$`;
    const started = process.hrtime.bigint();
    expect(unsafeRegexReason(pattern)).toBeUndefined();
    // Loose bound (load time, not request time): catches a cubic blow-up, not noise.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it('refuses an unsafe pattern in a policy file, naming the file, policy, rule and field', () => {
    const { policy, problems } = compilePolicyText(
      'slow.json',
      JSON.stringify({
        name: 'slow',
        default: 'Allow',
        rules: [
          {
            name: 'no-ab',
            reason: 'No ab',
            effect: 'Deny',
            conditions: [{ field: 'path', operator: 'regex', value: '^.*a.*a.*a.*a.*b$' }],
          },
        ],
      }),
    );
    expect(policy).toBeUndefined();
    expect(problems.map(formatProblem)).toEqual([
      expect.stringMatching(
        /^slow\.json: rules\[0\]\.conditions\[0\]\.value: regex "\^\.\*a\.\*a\.\*a\.\*a\.\*b\$" can take polynomial time: .* \(policy slow, rule no-ab, field request\.path\)$/,
      ),
    ]);
  });
});

describe('regex input cap', () => {
  const set = policySet(
    ['Deny', 'Allow'].map((effect) => {
      const { policy } = compilePolicyText(
        `${effect}.json`,
        JSON.stringify({
          name: `cap-${effect}`,
          default: 'Allow',
          rules: [
            {
              name: 'by-regex',
              reason: 'By regex',
              effect,
              conditions: [{ field: 'path', operator: 'regex', value: '^/x/[a-z]+$' }],
            },
          ],
        }),
      );
      return policy!;
    }),
  );
  const decide = (path: string) => evaluatePolicies(set, pathInput(path));

  it('judges text up to the cap', () => {
    expect(decide(`/x/${'a'.repeat(REGEX_INPUT_LIMIT - 3)}`).effect).toBe('Deny');
    expect(decide(`/y/${'a'.repeat(REGEX_INPUT_LIMIT - 3)}`).effect).toBe('Allow');
  });

  it('refuses text over the cap, whatever the rule’s effect', () => {
    const decision = decide(`/y/${'a'.repeat(REGEX_INPUT_LIMIT)}`);
    expect(decision).toMatchObject({ effect: 'Deny', rule: 'by-regex' });
    expect(decision.reason).toMatch(/could not be judged.*longer than 8192 characters/);
  });
});
