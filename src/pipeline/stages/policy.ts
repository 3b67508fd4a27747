/**
 * policy: what the policies say about this request, after resolveService named its service. The
 * stage builds the PolicyInput (reading the body within Policy.MaxBodyBytes when some policy
 * reads `request.body`, the engine cannot tell (OPA), or `alwaysReadBody` says a later stage
 * wants it; the body is handed back to the request as a stream of the same bytes) and asks the
 * engine. Deny refuses with VEC_POLICY_DENIED and the decision's reason, or with
 * VEC_POLICY_BODY_UNREADABLE (413 or 400) when a rule that reads the body could not judge it;
 * Hitl is left for the approval stage (`deferHitl`) or refused here with VEC_APPROVAL_REQUIRED,
 * so a pipeline without an approval stage never lets it through. An engine that cannot decide
 * rejects with VEC_POLICY_UNAVAILABLE (OPA's fail-open is the engine's own, logged, business).
 * A request that servers read differently (encoded slashes, `;params`, repeated query keys) is
 * judged in each reading, the strictest decision winning (policy/request-readings.ts). The
 * decision stays on the request for later stages (policyDecisionOf).
 */
import { GatewayError, type ErrorCode } from '../../errors';
import { isJsonContentType, readRequestBody, unreadBody } from '../../policy/json-body';
import { decideEveryReading } from '../../policy/request-readings';
import { policyInputFromContext, setPolicyDecision } from '../policy-context';
import { denialOf } from '../../policy/unreadable-body';
import type { PolicyDecision, PolicyEngine } from '../../policy/types';
import { CONTINUE, type Decision, type RequestContext, type Stage } from '../types';
import { checkDependency, checkOptions, configInvalid } from './options';

export { policyDecisionOf, policyInputOf } from '../policy-context';

export interface PolicyStageOptions {
  /**
   * True when an approval stage follows and holds Hitl requests for a human: this stage then
   * continues and leaves the decision to it. False (default): this stage refuses Hitl itself
   * with VEC_APPROVAL_REQUIRED.
   */
  deferHitl?: boolean;
  /**
   * Read bodies declared JSON (Content-Type) even when no policy reads `request.body`, because a
   * later stage uses `policyInputOf(ctx).request.body` (semantic risk scoring). Default false: a
   * body is only buffered when some policy needs it.
   */
  alwaysReadBody?: boolean;
}

export interface PolicyStageDeps {
  engine: Pick<PolicyEngine, 'evaluate'> & Partial<Pick<PolicyEngine, 'needsBody'>>;
  /** Policy.MaxBodyBytes: bodies up to this size are read for `request.body.*`. */
  bodyLimit: number;
  now?: () => number;
}

export function createPolicyStage(options: PolicyStageOptions, deps: PolicyStageDeps): Stage {
  checkOptions('policy', options, ['deferHitl', 'alwaysReadBody']);
  for (const flag of ['deferHitl', 'alwaysReadBody'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
      throw configInvalid('policy', flag, 'must be true or false');
    }
  }
  checkDependency('policy', deps, 'engine', ['evaluate']);
  const { engine, bodyLimit } = deps;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 0) {
    throw configInvalid('policy', 'bodyLimit', 'must be a whole number of bytes, 0 or more');
  }
  const deferHitl = options.deferHitl === true;
  const alwaysReadBody = options.alwaysReadBody === true;
  const now = deps.now ?? Date.now;

  return async function policy(ctx: RequestContext): Promise<Decision> {
    // A body no policy reads is only read for a later stage, and then only when declared JSON.
    const read =
      engine.needsBody?.() !== false ||
      (alwaysReadBody && isJsonContentType(ctx.request.headers['content-type']));
    const body = read ? await readBody(ctx, bodyLimit) : unreadBody(ctx.request);
    const input = policyInputFromContext(ctx, body, now());
    const decision = await decideEveryReading(engine, input);
    setPolicyDecision(ctx, decision, input);
    if (decision.effect === 'Deny') {
      const { code, statusCode } = denialOf(decision);
      return refuse(code, decision, statusCode);
    }
    if (decision.effect === 'Hitl' && !deferHitl) return refuse('VEC_APPROVAL_REQUIRED', decision);
    return CONTINUE;
  };
}

async function readBody(ctx: RequestContext, limit: number) {
  try {
    return await readRequestBody(ctx.request, limit);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    // The client went away mid-body: a bad request, not a gateway fault.
    throw new GatewayError(
      'VEC_REQUEST_MALFORMED',
      'The request body could not be read to the end; send it again.',
      { cause: err },
    );
  }
}

function refuse(code: ErrorCode, decision: PolicyDecision, statusCode?: number): Decision {
  const context: Record<string, unknown> = {};
  if (decision.policy !== undefined) context.policy = decision.policy;
  if (decision.rule !== undefined) context.rule = decision.rule;
  if (decision.risk !== undefined) context.risk = decision.risk;
  return { kind: 'deny', error: new GatewayError(code, decision.reason, { context, statusCode }) };
}
