/**
 * approval: whether a human must approve the request first (policy effect Hitl, or the risk at
 * or above HumanInTheLoop.Threshold; approvals/requirement.ts), and if so, whether one has:
 *
 * - a standing approval (`session` or `always`) for this agent, vault, method, origin and path
 *   lets it through, unless a method-override header asks the upstream for another method;
 * - an approved `once` approval of the identical request (agent, vault, method, canonical URL,
 *   body hash, and the headers that change its meaning: held-request.ts; or the one
 *   `X-Vectra-Approval` names, checked against the request) is used up and lets it through;
 * - otherwise an approval is asked for (or the pending one found again) and the request is held
 *   for up to HumanInTheLoop.HoldSeconds: approved in time, it carries on as if nothing
 *   happened; denied, VEC_APPROVAL_DENIED; undecided, VEC_APPROVAL_PENDING with the approval's
 *   id, never a 2xx. A body over the policy body limit is not held (answered pending at once).
 *
 * Without an approval service, or with HumanInTheLoop.Enabled=false, a Hitl policy is refused
 * with VEC_APPROVAL_REQUIRED (fail closed): the platform team wrote "not without review".
 */
import {
  approvalRequired,
  type ApprovalStageOptions as RequirementOptions,
} from '../../approvals/requirement';
import type { ApprovalService, WaitOutcome } from '../../approvals/approval-service';
import {
  APPROVAL_HEADER,
  approvalHeaders,
  bodyPreview,
  bufferBody,
  displayUrl,
  pathOf,
  requestKey,
  type BufferedBody,
} from '../../approvals/held-request';
import type { StoredApproval } from '../../approvals/approval-repository';
import { standingMatch } from '../../approvals/standing';
import type { Approval } from '../../approvals/types';
import { GatewayError } from '../../errors';
import { overriddenMethods } from '../../http/method-override';
import { CONTINUE, type Decision, type RequestContext, type Stage } from '../types';
import { checkOptions, configInvalid } from './options';

export interface ApprovalStageOptions extends RequirementOptions {
  /** Seconds a request is held waiting for a decision (0: answered pending at once). */
  holdSeconds?: number;
  /** HTTP status of VEC_APPROVAL_PENDING. */
  pendingStatus?: number;
  bodyPreviewBytes?: number;
  /** Requests held at once on this replica. */
  maxHeld?: number;
  /** Requests of one agent held at once on this replica (HumanInTheLoop.MaxPendingPerAgent). */
  maxHeldPerAgent?: number;
  /** Policy.MaxBodyBytes: a larger body is not held in memory. */
  holdBodyLimit?: number;
  /** System.Proxy.MaxRequestBodyBytes: the largest body read to hash. */
  maxBodyBytes?: number;
}

export interface ApprovalStageDeps {
  /** Absent: no one can approve, so a request that needs a human is refused. */
  approvals?: ApprovalService;
}

const OPTION_NAMES = [
  'enabled',
  'threshold',
  'holdSeconds',
  'pendingStatus',
  'bodyPreviewBytes',
  'maxHeld',
  'maxHeldPerAgent',
  'holdBodyLimit',
  'maxBodyBytes',
] as const;

/** Seconds an agent is told to wait before retrying a pending call. */
const RETRY_AFTER_SECONDS = 10;

export function createApprovalStage(
  options: ApprovalStageOptions,
  deps: ApprovalStageDeps = {},
): Stage {
  checkOptions('approval', options, [...OPTION_NAMES]);
  const { enabled, threshold } = options;
  if (typeof enabled !== 'boolean')
    throw configInvalid('approval', 'enabled', 'must be true or false');
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw configInvalid('approval', 'threshold', 'must be a number from 0 to 1');
  }
  const holdMs = (options.holdSeconds ?? 25) * 1000;
  const pendingStatus = options.pendingStatus ?? 403;
  const previewBytes = options.bodyPreviewBytes ?? 4096;
  const maxHeld = options.maxHeld ?? 1000;
  const maxHeldPerAgent = options.maxHeldPerAgent ?? 20;
  /** Held requests per agent: one agent must not take every hold slot of the replica. */
  const heldBy = new Map<string, number>();
  const holdBodyLimit = options.holdBodyLimit ?? 1 << 20;
  const maxBodyBytes = options.maxBodyBytes ?? 10 << 20;
  const { approvals } = deps;

  return async function approval(ctx) {
    const named = takeApprovalHeader(ctx);
    const verdict = ctx.policy?.decision;
    // Deny-overrides means `policy` already refused; reaching here would be a wiring mistake.
    if (verdict?.effect === 'Deny') throw new Error('approval ran after a policy Deny');
    const required = approvalRequired(verdict, ctx.risk, { enabled, threshold });
    if (!required) return CONTINUE;
    if (!enabled) {
      const why = ' HumanInTheLoop.Enabled is false, so no one can approve it (fail closed).';
      return deny(
        new GatewayError('VEC_APPROVAL_REQUIRED', required.message + why, {
          context: required.context,
        }),
      );
    }
    if (!approvals) return deny(required);
    const body = await bufferBody(ctx.request, maxBodyBytes);
    const identity = identityOf(ctx, body);
    if (!identity) return deny(required);

    const standing = overriddenMethods(identity.method, ctx.request.headers).length
      ? undefined
      : standingMatch(await approvals.standingFor(identity), ctx.request.path);
    if (standing) {
      ctx.audit.reason = `allowed by standing approval ${standing.id}`;
      return CONTINUE;
    }

    const key = requestKey({
      ...identity,
      target: ctx.request.path,
      bodySha256: body.sha256,
      headers: ctx.request.headers,
    });
    const existing = await findExisting(approvals, named, key, identity.agent);
    if (existing) {
      const decision = await settleExisting(existing, named !== undefined);
      if (decision) return decision;
    }
    const record =
      existing?.status === 'pending'
        ? existing
        : await approvals.request({
            requestId: ctx.requestId,
            requestKey: key,
            agent: identity.agent,
            vault: identity.vault,
            service: ctx.service?.name ?? null,
            method: identity.method,
            scheme: identity.scheme,
            host: identity.host,
            port: identity.port,
            path: pathOf(ctx.request.path),
            url: displayUrl({ ...identity, target: ctx.request.path }),
            headers: approvalHeaders(ctx.request.headers),
            bodySha256: body.sha256,
            bodySize: body.bytes.length,
            bodyPreview: bodyPreview(body.bytes, previewBytes),
            explanation: required.message,
            risk: typeof required.context.risk === 'number' ? required.context.risk : null,
            reasons: (required.context.reasons as string[] | undefined) ?? [],
          });
    const agent = identity.agent;
    const holdable =
      holdMs > 0 &&
      body.bytes.length <= holdBodyLimit &&
      approvals.held() < maxHeld &&
      (heldBy.get(agent) ?? 0) < maxHeldPerAgent;
    if (!holdable) return deny(pending(record));
    heldBy.set(agent, (heldBy.get(agent) ?? 0) + 1);
    const wait = approvals.waitForDecision(record.id, holdMs, ctx.cancellation);
    return {
      kind: 'pause',
      resume: wait
        .finally(() => {
          const left = (heldBy.get(agent) ?? 1) - 1;
          if (left > 0) heldBy.set(agent, left);
          else heldBy.delete(agent);
        })
        .then((outcome) => afterWait(outcome, record)),
    };

    async function settleExisting(
      found: StoredApproval,
      explicit: boolean,
    ): Promise<Decision | undefined> {
      switch (found.status) {
        case 'approved':
          if (found.scope === 'once' && (await approvals!.use(found, ctx.requestId))) {
            ctx.audit.reason = `allowed by approval ${found.id}`;
            return CONTINUE;
          }
          return undefined;
        case 'denied':
          return deny(denied(found));
        case 'expired':
          return explicit ? deny(expired(found)) : undefined;
        default:
          return undefined;
      }
    }

    async function afterWait(outcome: WaitOutcome, record: Approval): Promise<Decision> {
      if (outcome.kind === 'timeout' || outcome.kind === 'cancelled') return deny(pending(record));
      if (outcome.kind === 'expired') return deny(expired(outcome.approval));
      const decided = outcome.approval;
      if (decided.status === 'denied') return deny(denied(decided));
      if (decided.status !== 'approved') return deny(pending(record));
      if (decided.scope !== 'once') {
        ctx.audit.reason = `allowed by approval ${decided.id}`;
        return CONTINUE;
      }
      // Another request (the agent's own retry) may have used it while this one waited.
      if (!(await approvals!.use(decided, ctx.requestId))) return deny(pending(record));
      ctx.audit.reason = `allowed by approval ${decided.id}`;
      return CONTINUE;
    }
  };

  function pending(record: Approval): GatewayError {
    return new GatewayError(
      'VEC_APPROVAL_PENDING',
      `A human must approve this call; retry the same request after approval (approval ${record.id}, expires at ${record.expiresAt}). Why: ${trimStop(record.explanation)}.`,
      {
        statusCode: pendingStatus,
        context: {
          approvalId: record.id,
          expiresAt: record.expiresAt,
          retryAfter: RETRY_AFTER_SECONDS,
        },
      },
    );
  }
}

function deny(error: GatewayError): Decision {
  return { kind: 'deny', error };
}

function denied(record: Approval): GatewayError {
  const by = record.decidedBy ? ` by ${record.decidedBy.name}` : '';
  const reason = record.comment ? `: ${record.comment}` : '';
  return new GatewayError(
    'VEC_APPROVAL_DENIED',
    `A human denied this request${by}${reason} (approval ${record.id}). Do not retry it unchanged.`,
    { context: { approvalId: record.id, reason: record.comment ?? '' } },
  );
}

function expired(record: Approval): GatewayError {
  return new GatewayError(
    'VEC_APPROVAL_EXPIRED',
    `Approval ${record.id} expired at ${record.expiresAt} without a decision; send the request again to ask anew.`,
    { context: { approvalId: record.id, expiresAt: record.expiresAt } },
  );
}

function trimStop(text: string): string {
  return text.trim().replace(/[.]+$/, '');
}

/** Reads and removes `X-Vectra-Approval` (it is for Vectra, never for the upstream). */
function takeApprovalHeader(ctx: RequestContext): string | undefined {
  const value = ctx.request.headers[APPROVAL_HEADER];
  if (value === undefined) return undefined;
  delete ctx.request.headers[APPROVAL_HEADER];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}

/** Who asks, where, for what: undefined when the request lacks an agent or vault (cannot be bound). */
function identityOf(ctx: RequestContext, _body: BufferedBody) {
  const principal = ctx.principal;
  const agent =
    principal?.agentName ??
    (principal?.kind === 'session' ? `session:${principal.sessionId}` : undefined);
  if (!agent || !ctx.vault) return undefined;
  const { method, scheme, host, port } = ctx.request;
  return { agent, vault: ctx.vault, method: method.toUpperCase(), scheme, host, port };
}

/** The approval the retry names (if it is for this very request), else the newest for the request. */
async function findExisting(
  approvals: ApprovalService,
  named: string | undefined,
  key: string,
  agent: string,
): Promise<StoredApproval | undefined> {
  if (named !== undefined) {
    const found = await approvals.get(named);
    if (found && found.requestKey === key && found.agent === agent) return found;
  }
  return approvals.latestForRequest(key);
}

export {
  approvalRequired,
  type PolicyEffect,
  type PolicyVerdict,
} from '../../approvals/requirement';
