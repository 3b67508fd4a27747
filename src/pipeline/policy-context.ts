/**
 * The policy input built from a request in the pipeline, and what the `policy` stage leaves on
 * the request for the stages after it: the decision (the approval stage turns a Hitl into a
 * hold, the semantic stage may read the risk) and the input it was made on (so the semantic
 * stage need not read the body again), in the request's `policy` field.
 */
import { agentOf, buildPolicyInput, type BodyInfo } from '../policy/input';
import type { PolicyDecision, PolicyInput } from '../policy/types';
import type { RequestContext } from './types';

/** The input for a request in the pipeline (after authenticate and resolveService). */
export function policyInputFromContext(
  ctx: RequestContext,
  body: BodyInfo,
  now: number,
): PolicyInput {
  const { request } = ctx;
  return buildPolicyInput({
    agent: agentOf(ctx.principal),
    vault: ctx.vault ?? null,
    method: request.method,
    scheme: request.scheme,
    host: request.host,
    port: request.port,
    target: request.path,
    headers: request.headers,
    body,
    service: ctx.service?.name ?? null,
    now,
  });
}

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
