/**
 * How decisions are made and combined: first matching rule by priority within a policy, the
 * default otherwise; deny-overrides across policies (Deny, then Hitl, then Allow); appliesTo;
 * fail closed when no policy applies or a condition cannot be judged; risk; the explanation
 * trace; and what the shipped examples decide.
 */
import { join } from 'node:path';
import { evaluatePolicies, policySet, type PolicySet } from '../../src/policy/evaluate';
import { describedRequestInput } from '../../src/policy/input';
import { compilePolicyText, type CompiledPolicy } from '../../src/policy/policy-file';
import { loadPolicyDirectory } from '../../src/policy/policy-directory';
import type { PolicyInput, PolicyTrace } from '../../src/policy/types';
import { REPO_ROOT } from '../helpers/gateway';
import { policyDocument, rankedRule, rule, when } from '../helpers/policy-documents';

function policy(doc: Record<string, unknown>): CompiledPolicy {
  const { policy: compiled, problems } = compilePolicyText(
    `${String(doc.name)}.json`,
    JSON.stringify(doc),
  );
  if (!compiled) throw new Error(JSON.stringify(problems));
  return compiled;
}

/** A policy with one rule `rule` (effect, conditions on the method) and a default. */
function simple(
  name: string,
  defaultEffect: string,
  rule?: { effect: string; method?: string; risk?: number; priority?: number },
  extra: Record<string, unknown> = {},
): CompiledPolicy {
  const rules = rule
    ? [
        {
          name: `${name}-rule`,
          reason: `${name} says ${rule.effect}`,
          effect: rule.effect,
          priority: rule.priority ?? 0,
          ...(rule.risk === undefined ? {} : { risk: rule.risk }),
          conditions: rule.method ? [{ field: 'method', operator: 'eq', value: rule.method }] : [],
        },
      ]
    : [];
  return policy({ name, default: defaultEffect, rules, ...extra });
}

function request(
  method = 'GET',
  url = 'https://api.example.com/v1/items',
  extra = {},
): PolicyInput {
  return describedRequestInput({
    agent: 'bot',
    vault: 'team',
    method,
    url,
    body: { size: 0 },
    now: Date.UTC(2030, 0, 1, 12),
    ...extra,
  });
}

const decide = (set: PolicySet, input = request()) => evaluatePolicies(set, input);

describe('within one policy', () => {
  const rules = policy(
    policyDocument('p', 'Deny', [
      rankedRule(1, 'low', 'Allow', 'low'),
      rankedRule(5, 'high', 'Hitl', 'high', [when('method', 'eq', 'POST')]),
      rankedRule(5, 'high-too', 'Deny', 'high too', [when('method', 'eq', 'POST')]),
    ]),
  );

  it('the highest-priority rule whose conditions all hold decides; file order breaks ties', () => {
    expect(decide(policySet([rules]), request('POST'))).toMatchObject({
      effect: 'Hitl',
      policy: 'p',
      rule: 'high',
    });
  });

  it('a rule without conditions always holds', () => {
    expect(decide(policySet([rules]), request('GET'))).toMatchObject({
      effect: 'Allow',
      rule: 'low',
    });
  });

  it('the default decides when no rule holds', () => {
    const decision = decide(policySet([simple('d', 'Hitl', { effect: 'Allow', method: 'PUT' })]));
    expect(decision).toEqual({
      effect: 'Hitl',
      policy: 'd',
      reason: 'Policy d (no rule matched): its default is Hitl.',
    });
  });

  it('all conditions of a rule must hold', () => {
    const both = policy(
      policyDocument('both', 'Allow', [
        rule('r', 'Deny', 'no deletes on prod', [
          when('method', 'eq', 'DELETE'),
          when('host', 'glob', '*.prod.*'),
        ]),
      ]),
    );
    const set = policySet([both]);
    expect(decide(set, request('DELETE', 'https://a.prod.x/y')).effect).toBe('Deny');
    expect(decide(set, request('DELETE', 'https://a.dev.x/y')).effect).toBe('Allow');
    expect(decide(set, request('GET', 'https://a.prod.x/y')).effect).toBe('Allow');
  });
});

describe('across policies: deny-overrides', () => {
  const allow = simple('allow', 'Allow');
  const hitl = simple('hitl', 'Hitl');
  const deny = simple('deny', 'Deny');

  it('any Deny wins', () => {
    expect(decide(policySet([allow, hitl, deny])).effect).toBe('Deny');
    expect(decide(policySet([deny, allow])).policy).toBe('deny');
  });

  it('then any Hitl', () => {
    expect(decide(policySet([allow, hitl])).effect).toBe('Hitl');
    expect(decide(policySet([hitl, allow])).policy).toBe('hitl');
  });

  it('Allow only when every applicable policy allows', () => {
    expect(decide(policySet([allow, simple('allow2', 'Allow')])).effect).toBe('Allow');
  });

  it('among equal effects a rule explains more than a default, then file order', () => {
    const byRule = simple('by-rule', 'Deny', { effect: 'Allow' });
    expect(decide(policySet([allow, byRule]))).toMatchObject({
      policy: 'by-rule',
      rule: 'by-rule-rule',
    });
    expect(decide(policySet([allow, simple('allow2', 'Allow')])).policy).toBe('allow');
  });

  it('the risk is the highest of every rule that matched', () => {
    const low = simple('low', 'Deny', { effect: 'Allow', risk: 0.2 });
    const high = simple('high', 'Deny', { effect: 'Hitl', risk: 0.9 });
    const none = simple('none', 'Deny', { effect: 'Allow' });
    expect(decide(policySet([low, high, none]))).toMatchObject({ effect: 'Hitl', risk: 0.9 });
    expect(decide(policySet([low, none]))).toMatchObject({ effect: 'Allow', risk: 0.2 });
    expect(decide(policySet([none])).risk).toBeUndefined();
  });
});

describe('appliesTo', () => {
  const forAgents = simple('for-ci', 'Deny', undefined, {
    appliesTo: { agents: ['ci-*', 'agt_7'] },
  });
  const forVault = simple('for-prod', 'Deny', undefined, { appliesTo: { vaults: ['prod'] } });
  const forService = simple('for-github', 'Deny', undefined, { appliesTo: { services: 'github' } });
  const base = simple('base', 'Allow');
  const set = policySet([base, forAgents, forVault, forService]);

  it('leaves other agents, vaults and services out', () => {
    expect(decide(set).effect).toBe('Allow');
  });
  it('matches agents by name (globs allowed) or id', () => {
    expect(decide(set, request('GET', undefined, { agent: 'ci-1' })).policy).toBe('for-ci');
    expect(decide(set, request('GET', undefined, { agentId: 'agt_7' })).policy).toBe('for-ci');
  });
  it('matches vaults and services', () => {
    expect(decide(set, request('GET', undefined, { vault: 'prod' })).policy).toBe('for-prod');
    expect(decide(set, request('GET', undefined, { service: 'github' })).policy).toBe('for-github');
  });
  it('a disabled policy never applies', () => {
    const off = simple('off', 'Deny', undefined, { enabled: false });
    expect(decide(policySet([base, off])).effect).toBe('Allow');
  });
});

describe('fail closed', () => {
  it('refuses a request no policy applies to', () => {
    expect(decide(policySet([]))).toEqual({
      effect: 'Deny',
      reason:
        'No policy applies to agent bot in vault team, and a request no policy covers is refused.',
    });
    const elsewhere = simple('x', 'Allow', undefined, { appliesTo: { vaults: ['other'] } });
    expect(decide(policySet([elsewhere])).effect).toBe('Deny');
  });

  it('refuses when a condition cannot be judged (regex on over-long text)', () => {
    const regex = policy(
      policyDocument('r', 'Allow', [
        rule('no-drop', 'Deny', 'no drops', [when('query.q', 'regex', 'DROP')]),
      ]),
    );
    const long = request('GET', `https://x.example/?q=${'a'.repeat(9000)}`);
    expect(decide(policySet([regex]), long)).toMatchObject({
      effect: 'Deny',
      policy: 'r',
      rule: 'no-drop',
      reason: expect.stringContaining('request.query.q is longer than 8192 characters'),
    });
  });
});

describe('explanations', () => {
  it('trace each policy: skipped, default or the rule, with the first failing condition', () => {
    const trace: PolicyTrace[] = [];
    const set = policySet([
      simple('a', 'Hitl', { effect: 'Allow', method: 'PUT' }),
      simple('b', 'Allow', undefined, { appliesTo: { vaults: ['prod'] } }),
    ]);
    evaluatePolicies(set, request(), trace);
    expect(trace).toEqual([
      {
        policy: 'a',
        file: 'a.json',
        applies: true,
        effect: 'Hitl',
        rules: [{ rule: 'a-rule', priority: 0, matched: false, failed: 'request.method eq "PUT"' }],
      },
      { policy: 'b', file: 'b.json', applies: false, skipped: 'appliesTo.vaults is prod' },
    ]);
  });
});

describe('the shipped examples', () => {
  let examples: PolicySet;
  beforeAll(async () => {
    const loaded = await loadPolicyDirectory(join(REPO_ROOT, 'policies'));
    examples = policySet(loaded.policies);
  });

  it('allow a plain GET', () => {
    expect(decide(examples, request('GET', 'https://api.github.com/repos/acme/app'))).toMatchObject(
      {
        effect: 'Allow',
        policy: 'read-only-by-default',
        rule: 'reads-are-allowed',
      },
    );
  });
  it('send writes for approval', () => {
    expect(
      decide(examples, request('POST', 'https://api.github.com/repos/acme/app/issues')).effect,
    ).toBe('Hitl');
  });
  it('deny DELETE on production hosts', () => {
    expect(decide(examples, request('DELETE', 'https://db.prod.example.com/rows/1'))).toMatchObject(
      {
        effect: 'Deny',
        reason:
          'Policy no-destructive-verbs-on-production (rule no-delete-on-prod-hosts): DELETE is never allowed on production hosts.',
      },
    );
  });
  it('send exports for approval, even a GET, in any letter case', () => {
    expect(
      decide(examples, request('GET', 'https://crm.example.com/api/Export/contacts')),
    ).toMatchObject({
      effect: 'Hitl',
      rule: 'exports-need-approval',
      risk: 0.7,
    });
  });
});
