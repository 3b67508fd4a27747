/**
 * What the `policy` stage leaves on a request for the stages after it: the decision (the
 * approval stage turns a Hitl into a hold, the semantic stage may read the risk) and the input it
 * was made on (so the semantic stage need not read the body again). Kept in WeakMaps keyed by
 * the RequestContext until RequestContext grows a `policy` field; the accessors stay the same.
 */
import type { RequestContext } from '../pipeline/types';
import type { PolicyDecision, PolicyInput } from './types';

const decisions = new WeakMap<RequestContext, PolicyDecision>();
const inputs = new WeakMap<RequestContext, PolicyInput>();

export function setPolicyDecision(
  ctx: RequestContext,
  decision: PolicyDecision,
  input: PolicyInput,
): void {
  decisions.set(ctx, decision);
  inputs.set(ctx, input);
}

/** The policy decision for this request; undefined before the `policy` stage ran. */
export function policyDecisionOf(ctx: RequestContext): PolicyDecision | undefined {
  return decisions.get(ctx);
}

/** The PolicyInput the decision was made on (headers redacted, body parsed when read). */
export function policyInputOf(ctx: RequestContext): PolicyInput | undefined {
  return inputs.get(ctx);
}
