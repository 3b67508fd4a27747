/**
 * Each condition operator, with the comparison rules policy authors rely on: case (sensitive,
 * except `ignoreCase` and the normalised method/host/scheme), numbers compared as numbers,
 * lists, missing fields, and the guards on regexes (static ReDoS check, input cap).
 */
import { resolveField, type FieldRef } from '../../src/policy/fields';
import { compileGlob } from '../../src/glob';
import {
  compileCondition,
  ConditionProblem,
  OPERATORS,
  PolicyEvaluationError,
  type Operator,
} from '../../src/policy/operators';
import { REGEX_INPUT_LIMIT, unsafeRegexReason } from '../../src/policy/safe-regex';
import type { PolicyInput } from '../../src/policy/types';

function input(overrides: Partial<PolicyInput['request']> = {}): PolicyInput {
  return {
    agent: { name: 'ci-bot', id: 'agt_1' },
    vault: 'prod',
    request: {
      method: 'POST',
      scheme: 'https',
      host: 'api.prod.example.com',
      port: 443,
      path: '/v1/Repos/acme/export',
      query: { page: '10', tag: ['a', 'b'], flag: 'true' },
      headers: { 'content-type': 'application/json', 'x-env': 'Prod' },
      body: { amount: 250, user: { role: 'admin' }, items: ['x', 'y'], ok: true, note: null },
      bodySize: 120,
      ...overrides,
    },
    service: { name: 'github' },
    time: { hour: 14, weekday: 'Tuesday' },
  };
}

function field(name: string): FieldRef {
  const ref = resolveField(name);
  if (typeof ref === 'string') throw new Error(ref);
  return ref;
}

/** Whether `field operator value` holds on `doc`. */
function holds(
  name: string,
  operator: Operator,
  value: unknown,
  doc: PolicyInput = input(),
  ignoreCase = false,
): boolean {
  return compileCondition({ field: field(name), operator, value, ignoreCase }).test(doc);
}

function problem(name: string, operator: Operator, value: unknown, ignoreCase = false): string {
  try {
    compileCondition({ field: field(name), operator, value, ignoreCase });
  } catch (err) {
    if (err instanceof ConditionProblem) return err.message;
    throw err;
  }
  throw new Error('expected a problem');
}

describe('operators', () => {
  it('lists the fifteen operators of the issue', () => {
    expect([...OPERATORS].sort()).toEqual(
      [
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
      ].sort(),
    );
  });

  describe('eq / ne', () => {
    it('compares strings case-sensitively', () => {
      expect(holds('request.headers.x-env', 'eq', 'Prod')).toBe(true);
      expect(holds('request.headers.x-env', 'eq', 'prod')).toBe(false);
      expect(holds('request.headers.x-env', 'ne', 'prod')).toBe(true);
    });
    it('ignores case when asked', () => {
      expect(holds('request.headers.x-env', 'eq', 'prod', input(), true)).toBe(true);
      expect(holds('request.headers.x-env', 'ne', 'PROD', input(), true)).toBe(false);
    });
    it('always ignores case on the normalised method, host and scheme', () => {
      expect(holds('request.method', 'eq', 'post')).toBe(true);
      expect(holds('request.host', 'eq', 'API.Prod.Example.com')).toBe(true);
      expect(holds('request.scheme', 'eq', 'HTTPS')).toBe(true);
    });
    it('compares numbers numerically, whichever side is a string', () => {
      expect(holds('request.port', 'eq', 443)).toBe(true);
      expect(holds('request.port', 'eq', '443')).toBe(true);
      expect(holds('request.query.page', 'eq', 10)).toBe(true);
      expect(holds('request.query.page', 'eq', '10.0')).toBe(true);
      expect(holds('request.body.amount', 'eq', '250')).toBe(true);
      expect(holds('request.port', 'ne', 80)).toBe(true);
    });
    it('treats true and false like the strings "true" and "false"', () => {
      expect(holds('request.query.flag', 'eq', true)).toBe(true);
      expect(holds('request.body.ok', 'eq', 'true')).toBe(true);
      expect(holds('request.body.ok', 'eq', false)).toBe(false);
    });
    it('matches null only against null', () => {
      expect(holds('request.body.note', 'eq', null)).toBe(true);
      expect(holds('request.body.ok', 'eq', null)).toBe(false);
    });
    it('holds for a list when one element does', () => {
      expect(holds('request.query.tag', 'eq', 'b')).toBe(true);
      expect(holds('request.query.tag', 'ne', 'b')).toBe(false);
    });
    it('never holds on a missing field, so ne does', () => {
      expect(holds('request.headers.x-missing', 'eq', 'x')).toBe(false);
      expect(holds('request.headers.x-missing', 'ne', 'x')).toBe(true);
    });
    it('does not compare objects', () => {
      expect(holds('request.body.user', 'eq', 'admin')).toBe(false);
    });
    it('refuses a list or an object as value', () => {
      expect(problem('request.method', 'eq', ['GET'])).toMatch(/string, a number/);
    });
  });

  describe('gt / lt / ge / le', () => {
    it('compare numbers, including numeric strings', () => {
      expect(holds('request.query.page', 'gt', 9)).toBe(true); // "10" > 9, not "10" < "9"
      expect(holds('request.query.page', 'lt', '11')).toBe(true);
      expect(holds('request.bodySize', 'ge', 120)).toBe(true);
      expect(holds('request.bodySize', 'le', 119)).toBe(false);
      expect(holds('time.hour', 'ge', 9)).toBe(true);
      expect(holds('request.body.amount', 'gt', 1000)).toBe(false);
    });
    it('never hold for text or a missing field', () => {
      expect(holds('request.headers.x-env', 'gt', 0)).toBe(false);
      expect(holds('request.headers.x-missing', 'lt', 100)).toBe(false);
      expect(holds('request.bodySize', 'gt', 0, input({ bodySize: null }))).toBe(false);
    });
    it('need a number', () => {
      expect(problem('request.port', 'gt', 'abc')).toMatch(/gt needs a number/);
    });
  });

  describe('in / notIn', () => {
    it('test membership with the eq rules', () => {
      expect(holds('request.method', 'in', ['get', 'post'])).toBe(true);
      expect(holds('request.port', 'in', ['80', '443'])).toBe(true);
      expect(holds('vault', 'in', ['dev', 'staging'])).toBe(false);
      expect(holds('vault', 'notIn', ['dev', 'staging'])).toBe(true);
      expect(holds('vault', 'in', ['PROD'])).toBe(false);
      expect(holds('vault', 'in', ['PROD'], input(), true)).toBe(true);
    });
    it('on a list field, hold when any element is in', () => {
      expect(holds('request.query.tag', 'in', ['b', 'c'])).toBe(true);
      expect(holds('request.query.tag', 'notIn', ['b', 'c'])).toBe(false);
    });
    it('on a missing field: in never, notIn always', () => {
      expect(holds('request.query.none', 'in', ['x'])).toBe(false);
      expect(holds('request.query.none', 'notIn', ['x'])).toBe(true);
    });
    it('need a list', () => {
      expect(problem('vault', 'in', 'prod')).toMatch(/list/);
    });
  });

  describe('contains', () => {
    it('is a substring test on text', () => {
      expect(holds('request.path', 'contains', '/export')).toBe(true);
      expect(holds('request.path', 'contains', '/repos')).toBe(false);
      expect(holds('request.path', 'contains', '/repos', input(), true)).toBe(true);
    });
    it('is a membership test on a list', () => {
      expect(holds('request.body.items', 'contains', 'y')).toBe(true);
      expect(holds('request.body.items', 'contains', 'xy')).toBe(false);
    });
    it('refuses null', () => {
      expect(problem('request.path', 'contains', null)).toMatch(/not null/);
    });
  });

  describe('startsWith / endsWith', () => {
    it('test prefixes and suffixes', () => {
      expect(holds('request.path', 'startsWith', '/v1/')).toBe(true);
      expect(holds('request.path', 'endsWith', '/export')).toBe(true);
      expect(holds('request.path', 'startsWith', '/v1/repos')).toBe(false);
      expect(holds('request.path', 'startsWith', '/v1/repos', input(), true)).toBe(true);
      expect(holds('request.host', 'endsWith', '.EXAMPLE.COM')).toBe(true);
    });
    it('read numbers as their text', () => {
      expect(holds('request.port', 'startsWith', '44')).toBe(true);
    });
    it('need a non-empty string', () => {
      expect(problem('request.path', 'startsWith', '')).toMatch(/non-empty string/);
    });
  });

  describe('regex', () => {
    it('matches, case-sensitively unless asked', () => {
      expect(holds('request.path', 'regex', '^/v1/[A-Z]')).toBe(true);
      expect(holds('request.path', 'regex', '^/v1/repos')).toBe(false);
      expect(holds('request.path', 'regex', '^/v1/repos', input(), true)).toBe(true);
      expect(holds('request.body.user.role', 'regex', '^(admin|owner)$')).toBe(true);
    });
    it('refuses patterns that can backtrack catastrophically, at load', () => {
      expect(problem('request.path', 'regex', '(a+)+$')).toMatch(/holds a quantifier/);
      expect(problem('request.path', 'regex', '^(\\w+\\s?)*$')).toMatch(/holds a quantifier/);
      expect(problem('request.path', 'regex', '(a|ab)*c')).toMatch(/alternation/);
      expect(problem('request.path', 'regex', '(a?){25}a{25}')).toMatch(/holds a quantifier/);
      expect(problem('request.path', 'regex', '(x)\\1')).toMatch(/backreference/);
    });
    it('refuses invalid syntax with the engine’s message', () => {
      expect(problem('request.path', 'regex', '([a-z]')).toMatch(/not a valid regular expression/);
    });
    it('fails closed on text longer than the cap', () => {
      const long = input({ path: `/${'a'.repeat(REGEX_INPUT_LIMIT)}` });
      expect(() => holds('request.path', 'regex', '^/a')).not.toThrow();
      expect(() => holds('request.path', 'regex', '^/a', long)).toThrow(PolicyEvaluationError);
    });
  });

  describe('glob', () => {
    it('matches hosts and paths', () => {
      expect(holds('request.host', 'glob', '*.prod.*')).toBe(true);
      expect(holds('request.host', 'glob', '*.staging.*')).toBe(false);
      expect(holds('request.path', 'glob', '/v1/*/acme/*')).toBe(true);
      expect(holds('request.path', 'glob', '/v1/*/export')).toBe(false); // * stays in a segment
      expect(holds('request.path', 'glob', '/v1/**/export')).toBe(true);
      expect(holds('request.path', 'glob', '/v1/repos/**', input(), true)).toBe(true);
    });
  });

  describe('cidr', () => {
    const ip = (host: string) => input({ host });
    it('tests addresses against one block or several', () => {
      expect(holds('request.host', 'cidr', '10.0.0.0/8', ip('10.1.2.3'))).toBe(true);
      expect(holds('request.host', 'cidr', ['192.168.0.0/16', 'fc00::/7'], ip('fd00::1'))).toBe(
        true,
      );
      expect(holds('request.host', 'cidr', '10.0.0.0/8', ip('11.0.0.1'))).toBe(false);
    });
    it('never holds for a host name', () => {
      expect(holds('request.host', 'cidr', '0.0.0.0/0')).toBe(false);
    });
    it('refuses a bad block at load', () => {
      expect(problem('request.host', 'cidr', '10.0.0.0/33')).toMatch(/prefix/);
    });
  });

  describe('exists', () => {
    it('tests presence (null counts as absent)', () => {
      expect(holds('request.headers.content-type', 'exists', undefined)).toBe(true);
      expect(holds('request.headers.x-missing', 'exists', true)).toBe(false);
      expect(holds('request.headers.x-missing', 'exists', false)).toBe(true);
      expect(holds('request.body.note', 'exists', undefined)).toBe(false);
      expect(holds('service.name', 'exists', undefined, { ...input(), service: null })).toBe(false);
    });
  });

  it('refuses ignoreCase where it means nothing', () => {
    expect(problem('request.port', 'gt', 1, true)).toMatch(/ignoreCase/);
  });

  it('never reads inherited properties of the body', () => {
    expect(holds('request.body.constructor', 'exists', undefined)).toBe(false);
    expect(holds('request.body.__proto__', 'exists', undefined)).toBe(false);
    expect(holds('request.body.items.1', 'eq', 'y')).toBe(true);
  });

  it('explains each condition in words', () => {
    const text = (name: string, operator: Operator, value: unknown, ignoreCase = false) =>
      compileCondition({ field: field(name), operator, value, ignoreCase }).text;
    expect(text('method', 'in', ['GET', 'HEAD'])).toBe('request.method in ["GET","HEAD"]');
    expect(text('headers.X-Env', 'eq', 'prod', true)).toBe(
      'request.headers.x-env eq "prod" (ignoring case)',
    );
    expect(text('body.user', 'exists', false)).toBe('request.body.user does not exist');
  });
});

describe('fields', () => {
  it('resolves the seed short names', () => {
    expect(field('method').name).toBe('request.method');
    expect(field('path').name).toBe('request.path');
    expect(field('headers.X-Api').name).toBe('request.headers.x-api');
    expect(field('query.Page').name).toBe('request.query.Page');
    expect(field('body.a.b').segments).toEqual(['request', 'body', 'a', 'b']);
    expect(field('service').name).toBe('service.name');
    expect(field('agent').name).toBe('agent.name');
  });
  it('refuses unknown fields, naming the known ones', () => {
    expect(resolveField('request.cookies')).toMatch(/not a field.*request\.method/);
    expect(resolveField('request.headers.')).toMatch(/needs a name/);
  });
});

describe('safe-regex', () => {
  it.each(['^/v1/[a-z]+$', '^(GET|POST)$', '(?:ab)+', '^(.+\\.)?prod\\.', '[(+*]+', '\\(a+\\)+'])(
    'accepts %s',
    (pattern) => expect(unsafeRegexReason(pattern)).toBeUndefined(),
  );
  it.each(['(a*)*', '((ab)+)+', '(?:a|b)+', '(x+){2,}', '\\k<n>', '(?<n>a)\\k<n>'])(
    'refuses %s',
    (pattern) => expect(unsafeRegexReason(pattern)).toBeDefined(),
  );
  it('refuses very long patterns', () => {
    expect(unsafeRegexReason('a'.repeat(2000))).toMatch(/longer than/);
  });
});

describe('glob', () => {
  it('handles escapes, ? and neighbouring stars', () => {
    expect(compileGlob('a\\*b').matches('a*b')).toBe(true);
    expect(compileGlob('a\\*b').matches('axb')).toBe(false);
    expect(compileGlob('v?').matches('v1')).toBe(true);
    expect(compileGlob('v?').matches('v/')).toBe(false);
    expect(compileGlob('/a/***').matches('/a/b/c')).toBe(true);
  });
  it('takes time linear in the text, even for patterns a regex would backtrack on', () => {
    const glob = compileGlob('**a**a**a**a**a**a**b');
    const started = process.hrtime.bigint();
    expect(glob.matches('a'.repeat(50_000))).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });
});
