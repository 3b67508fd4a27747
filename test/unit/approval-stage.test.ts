import type { GatewayError } from '../../src/errors';
import { testContext } from '../helpers/context';
import {
  createApprovalStage,
  type PolicyEffect,
  type PolicyVerdict,
} from '../../src/pipeline/stages/approval';
import { createSemanticStage } from '../../src/pipeline/stages/semantic';
import type { Decision, RequestContext } from '../../src/pipeline/types';
import { createInternalScorer } from '../../src/semantic/internal-scorer';
import type { RiskAssessment } from '../../src/semantic/types';

function context(method = 'GET', path = '/repos/x/y'): RequestContext {
  return testContext({ request: { method, host: 'api.example.com', path } });
}

/** The policy stage's verdict, left on the request as that stage leaves it. */
const verdicts = {
  set(ctx: RequestContext, verdict: PolicyVerdict | PolicyEffect): void {
    const decision = typeof verdict === 'string' ? { effect: verdict } : verdict;
    ctx.policy = { decision, input: {} } as unknown as RequestContext['policy'];
  },
};
const semantic = createSemanticStage({}, { scorer: createInternalScorer() });
const approval = createApprovalStage({ enabled: true, threshold: 0.8 });

async function run(
  ctx: RequestContext,
  stage = approval,
): Promise<Decision & { error?: GatewayError }> {
  await semantic(ctx);
  return stage(ctx);
}

describe('approval stage', () => {
  it('is named approval and lets an ordinary request through', async () => {
    expect(approval.name).toBe('approval');
    expect(await run(context())).toEqual({ kind: 'continue' });
  });

  it('a risk at or above the threshold needs approval: 403 naming the factors', async () => {
    const decision = await run(context('DELETE', '/admin/users/all'));
    expect(decision.kind).toBe('deny');
    const error = decision.error!;
    expect(error.code).toBe('VEC_APPROVAL_REQUIRED');
    expect(error.statusCode).toBe(403);
    expect(error.message).toBe(
      'A human must approve this request: its risk score 0.86 reaches the threshold 0.8 because ' +
        'DELETE removes data, the path names an admin area ("admin"), the path targets many ' +
        'things at once ("all") and the path names sensitive data ("users").',
    );
    expect(error.toJSON()).toMatchObject({
      code: 'VEC_APPROVAL_REQUIRED',
      statusCode: 403,
      risk: 0.86,
      reasons: [
        'DELETE removes data',
        'the path names an admin area ("admin")',
        'the path targets many things at once ("all")',
        'the path names sensitive data ("users")',
      ],
    });
  });

  it('exactly at the threshold needs approval; just below does not', async () => {
    const at = (score: number) => {
      const risk: RiskAssessment = {
        score,
        factors: [{ name: 'x', weight: score, detail: 'x' }],
        explanation: '',
        provider: 'Internal',
      };
      const ctx = context();
      ctx.risk = risk;
      return createApprovalStage({ enabled: true, threshold: 0.8 })(ctx);
    };
    expect((await at(0.8)).kind).toBe('deny');
    expect((await at(0.79)).kind).toBe('continue');
  });

  it('policy effect Hitl needs approval, with the rule and its reason', async () => {
    const ctx = context();
    verdicts.set(ctx, {
      effect: 'Hitl',
      rule: 'exports-need-approval',
      reason: 'Exports need approval.',
    });
    const { error } = await run(ctx);
    expect(error?.code).toBe('VEC_APPROVAL_REQUIRED');
    // The policy's reason already names the rule: not repeated.
    expect(error?.message).toBe(
      'A human must approve this request: the policy asks for review (Exports need approval).',
    );
    expect(error?.context).toEqual({ risk: 0.05, reasons: ['Exports need approval'] });
  });

  it('a bare effect string works, and so does no policy verdict at all', async () => {
    const ctx = context();
    verdicts.set(ctx, 'Hitl');
    expect((await run(ctx)).error?.message).toBe(
      'A human must approve this request: the policy asks for review.',
    );
    const named = context();
    verdicts.set(named, { effect: 'Hitl', rule: 'review-writes' });
    expect((await run(named)).error?.message).toBe(
      'A human must approve this request: policy rule "review-writes" asks for review.',
    );
    const allowed = context();
    verdicts.set(allowed, 'Allow');
    expect((await run(allowed)).kind).toBe('continue');
  });

  it('Hitl and a high risk: both reasons in one sentence', async () => {
    const ctx = context('DELETE', '/admin/users/all');
    verdicts.set(ctx, { effect: 'Hitl', reason: 'Admin calls need review' });
    const { error } = await run(ctx);
    expect(error?.message).toMatch(
      /^A human must approve this request: the policy asks for review \(Admin calls need review\), and its risk score 0\.86 reaches the threshold 0\.8 because DELETE removes data, .*\.$/,
    );
    expect((error?.context.reasons as string[])[0]).toBe('Admin calls need review');
    expect(error?.context.reasons).toHaveLength(5);
  });

  it('a risk the policy rule declares counts like a score', async () => {
    const ctx = context();
    verdicts.set(ctx, { effect: 'Allow', rule: 'prod-writes', risk: 0.9 });
    const { error } = await run(ctx);
    expect(error?.message).toBe(
      'A human must approve this request: its risk score 0.90 reaches the threshold 0.8 because ' +
        'the policy rates its risk 0.90 and GET only reads.',
    );
    expect(error?.context.risk).toBe(0.9);
  });

  it('HumanInTheLoop disabled: the threshold is off, but a Hitl policy still cannot pass', async () => {
    const off = createApprovalStage({ enabled: false, threshold: 0.8 });
    expect((await run(context('DELETE', '/admin/users/all'), off)).kind).toBe('continue');
    const ctx = context();
    verdicts.set(ctx, 'Hitl');
    const { error } = await run(ctx, off);
    expect(error?.code).toBe('VEC_APPROVAL_REQUIRED');
    expect(error?.message).toContain('HumanInTheLoop.Enabled is false, so no one can approve it');
    expect(error?.context).toEqual({ reasons: ['the policy asks for review'] });
  });

  it('without the semantic stage only the policy decides', async () => {
    const ctx = context('DELETE', '/admin/users/all');
    expect(await approval(ctx)).toEqual({ kind: 'continue' });
  });

  it('a policy Deny reaching approval is a wiring mistake: it throws (fail closed)', async () => {
    const ctx = context();
    verdicts.set(ctx, 'Deny');
    await expect(approval(ctx)).rejects.toThrow('approval ran after a policy Deny');
  });

  it.each([
    [{ enabled: true }, {}, 'threshold must be a number from 0 to 1'],
    [{ enabled: true, threshold: 1.2 }, {}, 'threshold must be a number'],
    [{ enabled: 'yes', threshold: 0.8 }, {}, 'enabled must be true or false'],
    [{ enabled: true, threshold: 0.8, x: 1 }, {}, 'x is not an option'],
  ])('refuses a bad construction %j', (options, deps, message) => {
    expect(() => createApprovalStage(options as any, deps as any)).toThrow(message);
  });
});
