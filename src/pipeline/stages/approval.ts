/**
 * approval: whether a human must approve the request first — when the policy's effect is Hitl,
 * or when the risk (the semantic score, or a risk the deciding policy rule declares, whichever
 * is higher) is at or above HumanInTheLoop.Threshold.
 *
 * Such a request is refused with 403 VEC_APPROVAL_REQUIRED and one sentence naming why: the
 * policy's reason and/or the risk factors. The same sentence becomes the log line and the audit
 * row (the runner copies it). No request waits for a person yet: there is no approval store.
 *
 * HumanInTheLoop.Enabled=false turns off the risk threshold only: a policy that says Hitl still
 * cannot pass without a human (fail closed), since the platform team wrote "not without review".
 */
import {
  approvalRequired,
  type ApprovalStageOptions,
  type PolicyEffect,
  type PolicyVerdict,
} from '../../approvals/requirement';
import type { RiskAssessment } from '../../semantic/types';
import { CONTINUE, type RequestContext, type Stage } from '../types';
import { checkOptions, configInvalid } from './options';

export interface ApprovalStageDeps {
  /** Where the policy stage left its verdict (it owns that place); undefined: no policy ran. */
  policyEffectOf: (ctx: RequestContext) => PolicyVerdict | PolicyEffect | undefined;
  /** Where the semantic stage left its assessment; defaults to `ctx.risk`. */
  riskOf?: (ctx: RequestContext) => RiskAssessment | undefined;
}

export function createApprovalStage(options: ApprovalStageOptions, deps: ApprovalStageDeps): Stage {
  checkOptions('approval', options, ['enabled', 'threshold']);
  const { enabled, threshold } = options;
  if (typeof enabled !== 'boolean')
    throw configInvalid('approval', 'enabled', 'must be true or false');
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw configInvalid('approval', 'threshold', 'must be a number from 0 to 1');
  }
  if (typeof deps?.policyEffectOf !== 'function') {
    throw configInvalid('approval', 'policyEffectOf', 'must be a function');
  }
  if (deps.riskOf !== undefined && typeof deps.riskOf !== 'function') {
    throw configInvalid('approval', 'riskOf', 'must be a function');
  }
  const { policyEffectOf } = deps;
  const riskOf = deps.riskOf ?? ((ctx: RequestContext) => ctx.risk);

  return async function approval(ctx) {
    const verdict = normalize(policyEffectOf(ctx));
    // Deny-overrides means `policy` already refused; reaching here would be a wiring mistake.
    if (verdict?.effect === 'Deny') throw new Error('approval ran after a policy Deny');
    const error = approvalRequired(verdict, riskOf(ctx), options);
    return error ? { kind: 'deny', error } : CONTINUE;
  };
}

function normalize(value: PolicyVerdict | PolicyEffect | undefined): PolicyVerdict | undefined {
  return typeof value === 'string' ? { effect: value } : value;
}

export {
  approvalRequired,
  type ApprovalStageOptions,
  type PolicyEffect,
  type PolicyVerdict,
} from '../../approvals/requirement';
