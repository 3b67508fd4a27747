/**
 * Dry runs score and judge approval as the pipeline would (src/policy/dry-run.ts): the risk input
 * of a described request equals the semantic stage's for the same proxied request; the approval
 * verdict follows HumanInTheLoop and a policy's declared risk; the target and the path judged are
 * canonical, as the gateway would send them.
 */
import { agentPrincipal, testContext } from '../helpers/context';
import { riskInputOf as stageRiskInput } from '../../src/pipeline/stages/semantic';
import { dryRun, targetOf, withRisk, type DryRunResult } from '../../src/policy/dry-run';
import { bodyFromJson } from '../../src/policy/json-body';
import { describedRequestInput } from '../../src/policy/input';
import type { PolicyDecision, PolicyEngine, PolicyInput } from '../../src/policy/types';
import { createInternalScorer } from '../../src/semantic/internal-scorer';
import type { RiskInput } from '../../src/semantic/types';

/** A scorer that keeps what it was asked to score. */
function capturingScorer() {
  const seen: RiskInput[] = [];
  const internal = createInternalScorer({});
  return { seen, score: (input: RiskInput) => (seen.push(input), internal.score(input)) };
}

function described(method: string, url: string, body?: unknown): DryRunResult['input'] {
  return describedRequestInput({
    agent: 'bot',
    vault: 'team',
    method,
    url,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? { size: 0 } : bodyFromJson(body, 65536),
    now: 0,
  });
}

const allow: PolicyDecision = { effect: 'Allow', reason: 'fine', policy: 'p' };

describe('dry-run risk input', () => {
  it("equals the semantic stage's for the same proxied request", async () => {
    const body = { query: 'DROP TABLE users' };
    const text = JSON.stringify(body);
    for (const [host, url] of [
      ['::1', 'https://[::1]:8443/v1/items?x=1'],
      ['api.example.com', 'https://api.example.com/v1/items?x=1'],
    ]) {
      const scorer = capturingScorer();
      const input = described('POST', url, body);
      await withRisk({ decision: allow, input }, targetOf(url), { scorer, scored: true });
      const ctx = testContext({
        entry: 'tunnel',
        request: {
          method: 'POST',
          host,
          port: host === '::1' ? 8443 : 443,
          path: '/v1/items?x=1',
          headers: { 'content-type': 'application/json' },
          contentLength: Buffer.byteLength(text),
        },
        principal: agentPrincipal('team'),
      });
      expect(scorer.seen).toEqual([stageRiskInput(ctx, text)]);
    }
  });

  it('leaves out the body size when no body is described, as a request without one', async () => {
    const scorer = capturingScorer();
    const url = 'https://api.example.com/repos/x/y';
    await withRisk({ decision: allow, input: described('GET', url) }, targetOf(url), { scorer });
    expect(scorer.seen[0]).toEqual({
      method: 'GET',
      host: 'api.example.com',
      path: '/repos/x/y',
      agent: 'bot',
    });
  });

  it.each([
    ['https://h.example/admin/../users?x=1#frag', '/users?x=1'],
    ['https://h.example//admin//users', '/admin/users'],
    ['https://h.example', '/'],
    ['https://h.example?q=1', '/?q=1'],
    ['http://[::1]:8080/a/%7e', '/a/~'],
  ])('takes the target of %s as the gateway sends it: %s', (url, target) => {
    expect(targetOf(url)).toBe(target);
    expect(described('GET', url).request.path).toBe(target.split('?')[0]);
  });
});

describe('dry-run paths', () => {
  /** Denies `/admin` and below, records the paths it judged; explains when `explains`. */
  function adminDenied(explains: boolean) {
    const paths: string[] = [];
    const decide = (input: PolicyInput): PolicyDecision => {
      paths.push(input.request.path);
      return input.request.path.startsWith('/admin')
        ? { effect: 'Deny', reason: 'No admin.', policy: 'p', rule: 'admin' }
        : allow;
    };
    const engine = {
      evaluate: async (input: PolicyInput) => decide(input),
      ...(explains
        ? { explain: async (input: PolicyInput) => ({ decision: decide(input), trace: [] }) }
        : {}),
    } as unknown as PolicyEngine;
    return { paths, engine };
  }

  it.each([true, false])(
    'judge a path with encoded slashes also decoded, as the gateway does (explain: %s)',
    async (explains) => {
      const { paths, engine } = adminDenied(explains);
      const url = 'https://h.example/files/..%2f..%2Fadmin';
      const result = await dryRun(engine, described('GET', url), targetOf(url));
      expect(result.decision.effect).toBe('Deny');
      expect(result.decision.reason).toContain('judged as /admin');
      expect(paths).toEqual(['/files/..%2F..%2Fadmin', '/admin']);
      expect(result.input.request.path).toBe('/files/..%2F..%2Fadmin');
    },
  );
});

describe('dry-run approval verdict', () => {
  const url = 'https://api.example.com/admin/users/all';
  const input = described('DELETE', url);
  const scorer = createInternalScorer({});

  it('counts the score only while scoring is on', async () => {
    const on = await withRisk({ decision: allow, input }, targetOf(url), {
      scorer,
      scored: true,
      approval: { enabled: true, threshold: 0.8 },
    });
    expect(on.approval?.required).toBe(true);
    const off = await withRisk({ decision: allow, input }, targetOf(url), {
      scorer,
      scored: false,
      approval: { enabled: true, threshold: 0.8 },
    });
    expect(off.risk).toMatchObject({ applied: false });
    expect(off.approval).toEqual({ required: false });
  });

  it('holds a Hitl effect even with HumanInTheLoop.Enabled=false, and the threshold not', async () => {
    const stages = { scorer, scored: true, approval: { enabled: false, threshold: 0.8 } };
    const hitl = await withRisk(
      { decision: { effect: 'Hitl', reason: 'Exports need a human.' }, input },
      targetOf(url),
      stages,
    );
    expect(hitl.approval).toEqual({
      required: true,
      message:
        'A human must approve this request: the policy asks for review (Exports need a human).',
    });
    const risky = await withRisk({ decision: allow, input }, targetOf(url), stages);
    expect(risky.approval).toEqual({ required: false });
  });

  it("weighs a policy's declared risk like a score, with scoring off", async () => {
    const declared = await withRisk(
      { decision: { ...allow, risk: 0.9 }, input: described('GET', 'https://a.example/') },
      '/',
      { approval: { enabled: true, threshold: 0.8 } },
    );
    expect(declared.risk).toBeUndefined();
    expect(declared.approval).toEqual({
      required: true,
      message: expect.stringContaining('its risk score 0.90 reaches the threshold 0.8'),
    });
  });

  it('scores nothing after a Deny', async () => {
    const denied = await withRisk(
      { decision: { effect: 'Deny', reason: 'no' }, input },
      targetOf(url),
      { scorer, scored: true, approval: { enabled: true, threshold: 0.8 } },
    );
    expect(denied).toEqual({ decision: { effect: 'Deny', reason: 'no' }, input });
  });
});
