/**
 * The hot path judges a set reduced for the request's context (agent, vault, service, scheme,
 * host, port, method, hour, weekday); dry runs walk every rule with a trace. Both must give the
 * same decision, word for word, for every request: checked here on generated policies and
 * requests (a seeded generator, so every run checks the same cases), on the benchmark's 20
 * policies and on the shipped examples.
 */
import { join } from 'node:path';
import { benchPolicies } from '../../bench/policies';
import { evaluatePolicies, policySet, type PolicySet } from '../../src/policy/evaluate';
import { buildPolicyInput, type InputParts } from '../../src/policy/input';
import { compilePolicyText, type CompiledPolicy } from '../../src/policy/policy-file';
import { loadPolicyDirectory } from '../../src/policy/policy-directory';
import type { PolicyDecision, PolicyInput, PolicyTrace } from '../../src/policy/types';
import { REPO_ROOT } from '../helpers/gateway';
import { policyDocument, rule, when } from '../helpers/policy-documents';

/** mulberry32: a small seeded generator. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  return { next, pick };
}

function compile(doc: Record<string, unknown>): CompiledPolicy {
  const { policy, problems } = compilePolicyText(`${String(doc.name)}.json`, JSON.stringify(doc));
  if (!policy) throw new Error(JSON.stringify(problems));
  return policy;
}

const LONG_HOST = `${'h'.repeat(9000)}.example`;
const AGENTS = ['bot', 'ci-runner', 'research-agent', null];
const VAULTS = ['team', 'prod-eu', 'staging-1', null];
const SERVICES = ['github', 'stripe', 'upstream', null];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];
const HOSTS = ['api.github.com', 'db.prod.example', '169.254.169.254', '127.0.0.1', LONG_HOST];
const PATHS = [
  '/',
  '/admin/users',
  '/v1/reports/q1/',
  '/repos/a/b/hooks',
  '/x/internal/y',
  '/export.csv',
];
const QUERIES = ['', '?page=2&limit=50', '?format=csv', '?limit=5000&api_key=k', '?q=DROP'];
const HEADERS: Array<Record<string, string>> = [
  {},
  { 'x-env': 'prod' },
  { accept: 'text/html' },
  { 'metadata-flavor': 'Google' },
];

/** Conditions on context fields and on per-request fields, some that can fail to be judged. */
const CONDITIONS: Array<Record<string, unknown>> = [
  { field: 'agent.name', operator: 'in', value: ['bot', 'ci-runner'] },
  { field: 'agent.name', operator: 'glob', value: '*-agent' },
  { field: 'agent.id', operator: 'exists', value: false },
  { field: 'vault', operator: 'startsWith', value: 'prod' },
  { field: 'service.name', operator: 'eq', value: 'github' },
  { field: 'service', operator: 'exists' },
  { field: 'method', operator: 'in', value: ['POST', 'PUT', 'PATCH', 'DELETE'] },
  { field: 'method', operator: 'eq', value: 'GET' },
  { field: 'host', operator: 'glob', value: '*.prod.*' },
  { field: 'host', operator: 'regex', value: '(^|\\.)github\\.com$' },
  { field: 'host', operator: 'cidr', value: ['169.254.0.0/16', '127.0.0.0/8'] },
  { field: 'request.scheme', operator: 'eq', value: 'https' },
  { field: 'request.port', operator: 'ne', value: 443 },
  { field: 'time.hour', operator: 'lt', value: 8 },
  { field: 'time.weekday', operator: 'in', value: ['Saturday', 'Sunday'] },
  { field: 'path', operator: 'startsWith', value: '/admin' },
  { field: 'path', operator: 'regex', value: '^/v[0-9]+/reports/' },
  { field: 'path', operator: 'glob', value: '/**/internal/**' },
  { field: 'path', operator: 'contains', value: 'EXPORT', ignoreCase: true },
  { field: 'query.limit', operator: 'gt', value: 1000 },
  { field: 'query.q', operator: 'regex', value: 'DROP' },
  { field: 'query.api_key', operator: 'exists' },
  { field: 'headers.x-env', operator: 'eq', value: 'prod' },
  { field: 'headers.accept', operator: 'contains', value: 'html' },
  { field: 'bodySize', operator: 'gt', value: 100 },
];

function generatedPolicies(random: ReturnType<typeof generator>, count: number): CompiledPolicy[] {
  const effects = ['Allow', 'Deny', 'Hitl'];
  return Array.from({ length: count }, (_, p) => {
    const rules = Array.from({ length: 1 + Math.floor(random.next() * 5) }, (_, r) => ({
      name: `r${r}`,
      reason: `p${p} rule ${r}`,
      priority: Math.floor(random.next() * 4),
      effect: random.pick(effects),
      ...(random.next() < 0.3 ? { risk: Math.round(random.next() * 100) / 100 } : {}),
      conditions: Array.from({ length: Math.floor(random.next() * 4) }, () =>
        random.pick(CONDITIONS),
      ),
    }));
    const appliesTo: Record<string, string[]> = {};
    if (random.next() < 0.2) appliesTo.agents = ['bot', 'ci-*'];
    if (random.next() < 0.2) appliesTo.vaults = ['team', 'prod-*'];
    if (random.next() < 0.2) appliesTo.services = ['github', 'upstream'];
    return compile({
      name: `p${p}`,
      default: random.pick(effects),
      ...(random.next() < 0.1 ? { enabled: false } : {}),
      ...(Object.keys(appliesTo).length > 0 ? { appliesTo } : {}),
      rules,
    });
  });
}

function generatedInput(random: ReturnType<typeof generator>): PolicyInput {
  const method = random.pick(METHODS);
  return buildPolicyInput({
    agent: { name: random.pick(AGENTS), id: random.next() < 0.5 ? 'a-1' : null },
    vault: random.pick(VAULTS),
    method,
    scheme: random.next() < 0.8 ? 'https' : 'http',
    host: random.pick(HOSTS),
    port: random.pick([443, 80, 8443]),
    target: `${random.pick(PATHS)}${random.pick(QUERIES)}`,
    headers: random.pick(HEADERS),
    body: { size: random.pick([0, 50, 5000]) },
    service: random.pick(SERVICES),
    now: Date.UTC(2030, 0, 1 + Math.floor(random.next() * 7), Math.floor(random.next() * 24)),
  });
}

/** A plain request (bot in team, GET https://a.example/), with `parts` changed. */
function plainInput(parts: Partial<InputParts> = {}): PolicyInput {
  return buildPolicyInput({
    agent: { name: 'bot', id: null },
    vault: 'team',
    method: 'GET',
    scheme: 'https',
    host: 'a.example',
    port: 443,
    target: '/',
    headers: {},
    body: { size: 0 },
    service: null,
    now: 0,
    ...parts,
  });
}

/** The hot path's decision and the traced walk's, for comparison. */
function bothWays(set: PolicySet, input: PolicyInput): [PolicyDecision, PolicyDecision] {
  const trace: PolicyTrace[] = [];
  return [evaluatePolicies(set, input), evaluatePolicies(set, input, trace)];
}

describe('the reduced set decides as the full walk does', () => {
  it('on generated policies and requests', () => {
    const random = generator(20261207);
    let compared = 0;
    const effects = new Set<string>();
    let unjudged = 0;
    for (let round = 0; round < 40; round++) {
      const set = policySet(generatedPolicies(random, 1 + Math.floor(random.next() * 8)));
      for (let i = 0; i < 100; i++) {
        const input = generatedInput(random);
        const [reduced, walked] = bothWays(set, input);
        expect(reduced).toEqual(walked);
        effects.add(walked.effect);
        if (walked.reason.includes('could not be judged')) unjudged++;
        compared++;
      }
    }
    expect(compared).toBe(4000);
    // The cases cover every effect, and a condition that could not be judged (the long host).
    expect([...effects].sort()).toEqual(['Allow', 'Deny', 'Hitl']);
    expect(unjudged).toBeGreaterThan(0);
  });

  it('when a context condition cannot be judged, only if the rule gets that far', () => {
    const set = policySet([
      compile(
        policyDocument('hosts', 'Allow', [
          rule('admin-on-github', 'Deny', 'no admin on GitHub', [
            when('path', 'startsWith', '/admin'),
            when('host', 'regex', 'github'),
          ]),
        ]),
      ),
    ]);
    const at = (path: string) => plainInput({ host: LONG_HOST, target: path });
    for (const path of ['/admin', '/public']) {
      const [reduced, walked] = bothWays(set, at(path));
      expect(reduced).toEqual(walked);
    }
    expect(evaluatePolicies(set, at('/admin'))).toMatchObject({
      effect: 'Deny',
      reason: expect.stringContaining('could not be judged'),
    });
    expect(evaluatePolicies(set, at('/public')).effect).toBe('Allow');
  });

  it('never takes one context for another, whatever characters names hold', () => {
    const set = policySet([
      compile(
        policyDocument('agents', 'Deny', [
          rule('bot', 'Allow', 'bot may', [when('agent.name', 'eq', 'bot')]),
        ]),
      ),
    ]);
    const input = (name: string, id: string) => plainInput({ agent: { name, id } });
    // null and the string "null" are different contexts.
    expect(evaluatePolicies(set, input('bot', 'null')).effect).toBe('Allow');
    expect(
      evaluatePolicies(set, { ...input('bot', 'x'), agent: { name: 'null', id: null } }).effect,
    ).toBe('Deny');
    expect(
      evaluatePolicies(set, { ...input('bot', 'x'), agent: { name: null, id: 'null' } }).effect,
    ).toBe('Deny');
    // Name and id joined without their lengths would read "bot3:x:1" both times.
    expect(evaluatePolicies(set, input('bot', '3:x:1')).effect).toBe('Allow');
    expect(evaluatePolicies(set, input('bot3:', 'x:1')).effect).toBe('Deny');
    expect(evaluatePolicies(set, input('bot', '3:x:1')).effect).toBe('Allow');
  });

  it('settles context conditions once per context, and tests the others per request', () => {
    const set = policySet([
      compile(
        policyDocument('writes', 'Allow', [
          rule('no-admin-writes', 'Deny', 'no admin writes', [
            when('method', 'in', ['POST', 'PUT']),
            when('path', 'startsWith', '/admin'),
          ]),
        ]),
      ),
    ]);
    const [method, path] = set.policies[0].rules[0].conditions;
    const counted = { method: 0, path: 0 };
    for (const [name, condition] of [
      ['method', method],
      ['path', path],
    ] as const) {
      const test = condition.test.bind(condition);
      (condition as { test: typeof test }).test = (input) => {
        counted[name]++;
        return test(input);
      };
    }
    const post = (target: string) => plainInput({ method: 'POST', target });
    for (let i = 0; i < 50; i++) {
      expect(evaluatePolicies(set, post(`/admin/${i}`)).effect).toBe('Deny');
      expect(evaluatePolicies(set, post(`/public/${i}`)).effect).toBe('Allow');
    }
    expect(counted).toEqual({ method: 1, path: 100 });
  });

  it('past the bound of remembered contexts', () => {
    const set = policySet(generatedPolicies(generator(7), 6));
    const random = generator(8);
    for (let i = 0; i < 3000; i++) {
      const input = generatedInput(random);
      input.agent.name = `agent-${i}`; // a new context each time: the memo starts over
      const [reduced, walked] = bothWays(set, input);
      expect(reduced).toEqual(walked);
    }
  });

  it("on the benchmark's 20 policies and the shipped examples", async () => {
    const bench = policySet(
      benchPolicies().map((doc) => compile(doc as unknown as Record<string, unknown>)),
    );
    const examples = policySet((await loadPolicyDirectory(join(REPO_ROOT, 'policies'))).policies);
    const random = generator(42);
    for (const set of [bench, examples]) {
      for (let i = 0; i < 500; i++) {
        const input = generatedInput(random);
        if (random.next() < 0.5) {
          input.agent.name = 'bench-agent';
          input.vault = 'bench';
          input.service = { name: 'upstream' };
        }
        const [reduced, walked] = bothWays(set, input);
        expect(reduced).toEqual(walked);
      }
    }
  });
});
