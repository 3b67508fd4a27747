/**
 * What the `policy` stage leaves on a request for the stages after it: the decision (the
 * approval stage turns a Hitl into a hold, the semantic stage may read the risk) and the input it
 * was made on (so the semantic stage need not read the body again), in the request's `policy`
 * field.
 */
import type { RequestContext } from '../pipeline/types';
import type { PolicyDecision, PolicyInput } from './types';

export function setPolicyDecision(
  ctx: RequestContext,
  decision: PolicyDecision,
  input: PolicyInput,
): void {
  ctx.policy = { decision, input };
}

/** The policy decision for this request; undefined before the `policy` stage ran. */
export function policyDecisionOf(ctx: RequestContext): PolicyDecision | undefined {
  return ctx.policy?.decision;
}

/** The PolicyInput the decision was made on (headers redacted, body parsed when read). */
export function policyInputOf(ctx: RequestContext): PolicyInput | undefined {
  return ctx.policy?.input;
}
