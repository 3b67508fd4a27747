/**
 * Where humans decide: `GET /v1/approvals` (filter by status, vault, agent), `GET
 * /v1/approvals/{id}`, `POST …/approve {scope, minutes?, pathPattern?, comment?}`, `POST
 * …/deny {reason}`, the standing approvals (`GET /v1/approvals/standing`, `DELETE
 * /v1/approvals/standing/{id}`) and `GET /v1/approvals/events`, a server-sent event stream of
 * every approval event for the web UI and `vectra approvals watch`. Owners and approvers decide;
 * auditors read; agent and session tokens are refused by the authorizer like on every admin route.
 */
import {
  checkMinutes,
  publicView,
  type ApprovalService,
  type ApproveInput,
} from '../../approvals/approval-service';
import {
  APPROVAL_SCOPES,
  type Approval,
  type ApprovalEvent,
  APPROVAL_STATUSES,
  type ApprovalScope,
  type Decider,
} from '../../approvals/types';
import { GatewayError } from '../../errors';
import { silentLogger, type Logger } from '../../observability/types';
import type { Principal } from '../../identity/types';
import { eventStreamRoute, follow, type EventStreamRoute } from './event-stream';
import { bodyObject, stringField, type RouteRequest, type RouteSpec } from './route';

export const APPROVALS_PATH = '/v1/approvals';
export const APPROVAL_EVENTS_PATH = `${APPROVALS_PATH}/events`;
const MAX_TEXT = 2000;
const MAX_PATTERN = 512;

type Approvals = Pick<
  ApprovalService,
  'list' | 'get' | 'approve' | 'deny' | 'listStanding' | 'revoke' | 'subscribe'
>;

export function approvalRoutes(approvals: Approvals): RouteSpec[] {
  return [
    {
      method: 'get',
      path: APPROVALS_PATH,
      access: 'any',
      summary:
        'Approvals, newest first. Query: `status` (pending|approved|denied|expired|used), `vault`, `agent`, `limit` (default 100, at most 500)',
      handle: async (req) => ({
        body: {
          approvals: await approvals.list({
            status: statusOf(req.query.status),
            vault: req.query.vault || undefined,
            agent: req.query.agent || undefined,
            limit: limitOf(req.query.limit),
          }),
        },
      }),
    },
    {
      method: 'get',
      path: `${APPROVALS_PATH}/standing`,
      access: 'any',
      summary: 'Standing approvals in force (scope session or always). Query: `vault`, `agent`',
      handle: async (req) => ({
        body: {
          standing: await approvals.listStanding({
            vault: req.query.vault || undefined,
            agent: req.query.agent || undefined,
          }),
        },
      }),
    },
    {
      method: 'delete',
      path: `${APPROVALS_PATH}/standing/:id`,
      access: 'decide',
      summary: 'Revoke a standing approval: requests it covered need a human again',
      handle: async (req) => ({
        body: { approval: await approvals.revoke(req.params.id, deciderOf(req)) },
      }),
    },
    {
      method: 'get',
      path: `${APPROVALS_PATH}/:id`,
      access: 'any',
      summary: 'One approval: the request (redacted), why it needs a human, and its decision',
      handle: async (req) => {
        const approval = await approvals.get(req.params.id);
        if (!approval) throw notFound(req.params.id);
        return { body: { approval: publicView(approval) } };
      },
    },
    {
      method: 'post',
      path: `${APPROVALS_PATH}/:id/approve`,
      access: 'decide',
      summary:
        'Approve: `once` lets the identical request through one time; `session` the same agent, vault, method, host and path pattern for `minutes`; `always` until revoked',
      body: {
        scope: 'once | session | always',
        minutes: 'for session: 1 to 10080',
        pathPattern: 'for session and always: a glob the path must match (default: the path)',
        comment: 'optional note, recorded with the decision',
      },
      handle: async (req) => ({
        body: {
          approval: await approvals.approve(req.params.id, deciderOf(req), approveInput(req)),
        },
      }),
    },
    {
      method: 'post',
      path: `${APPROVALS_PATH}/:id/deny`,
      access: 'decide',
      summary: 'Deny: the agent gets VEC_APPROVAL_DENIED with the reason',
      body: { reason: 'why, shown to the agent (required)' },
      handle: async (req) => {
        const reason = textField(bodyObject(req.body), 'reason', true)!;
        return { body: { approval: await approvals.deny(req.params.id, deciderOf(req), reason) } };
      },
    },
  ];
}

function deciderOf(req: RouteRequest): Decider {
  const principal = req.principal as Extract<Principal, { kind: 'admin' }>;
  return { id: principal.tokenId, name: principal.name };
}

function notFound(id: string): GatewayError {
  return new GatewayError('VEC_APPROVAL_NOT_FOUND', `No approval has the id ${id}.`, {
    context: { approvalId: id },
  });
}

function statusOf(value: string | undefined) {
  if (value === undefined || value === '') return undefined;
  if (!(APPROVAL_STATUSES as readonly string[]).includes(value)) {
    throw new GatewayError(
      'VEC_REQUEST_INVALID',
      `\`status\` must be one of ${APPROVAL_STATUSES.join(', ')}.`,
      { context: { field: 'status' } },
    );
  }
  return value as (typeof APPROVAL_STATUSES)[number];
}

function limitOf(value: string | undefined): number {
  if (value === undefined || value === '') return 100;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) {
    throw new GatewayError('VEC_REQUEST_INVALID', '`limit` must be a positive integer.', {
      context: { field: 'limit' },
    });
  }
  return Number(value);
}

function textField(
  body: Record<string, unknown>,
  field: string,
  required: boolean,
): string | undefined {
  const value = stringField(body, field, required as false)?.trim();
  if (required && !value) {
    throw new GatewayError('VEC_REQUEST_INVALID', `\`${field}\` must not be empty.`, {
      context: { field },
    });
  }
  if (value !== undefined && value.length > MAX_TEXT) {
    throw new GatewayError(
      'VEC_REQUEST_INVALID',
      `\`${field}\` is longer than ${MAX_TEXT} characters.`,
      {
        context: { field },
      },
    );
  }
  return value || undefined;
}

function approveInput(req: RouteRequest): ApproveInput {
  const body = bodyObject(req.body);
  const scope = stringField(body, 'scope', true);
  if (!(APPROVAL_SCOPES as readonly string[]).includes(scope)) {
    throw new GatewayError(
      'VEC_REQUEST_INVALID',
      `\`scope\` must be one of ${APPROVAL_SCOPES.join(', ')}.`,
      { context: { field: 'scope' } },
    );
  }
  const input: ApproveInput = { scope: scope as ApprovalScope };
  if (scope === 'session') input.minutes = checkMinutes(body.minutes);
  else if (body.minutes !== undefined) {
    throw new GatewayError('VEC_REQUEST_INVALID', '`minutes` is only for scope "session".', {
      context: { field: 'minutes' },
    });
  }
  const pattern = stringField(body, 'pathPattern');
  if (pattern !== undefined) {
    if (scope === 'once' || !pattern.startsWith('/') || pattern.length > MAX_PATTERN) {
      throw new GatewayError(
        'VEC_REQUEST_INVALID',
        `\`pathPattern\` must be a glob starting with "/" (at most ${MAX_PATTERN} characters), for scope session or always.`,
        { context: { field: 'pathPattern' } },
      );
    }
    input.pathPattern = pattern;
  }
  input.comment = textField(body, 'comment', false);
  return input;
}

/**
 * `GET /v1/approvals/events`: first `event: pending` with the approvals waiting now, then one
 * `event: approval` per event (`{type, at, approval}`) as it happens, on this replica or another.
 */
export function createApprovalStream(
  approvals: Approvals,
  options: { logger?: Logger; heartbeatMs?: number } = {},
): EventStreamRoute {
  const logger = options.logger ?? silentLogger;
  return eventStreamRoute(
    APPROVAL_EVENTS_PATH,
    'Server-sent events: `event: pending` (the approvals waiting now), then `event: approval` ({type: created|approved|denied|expired|used|revoked, at, approval}) as they happen on any replica',
    options.heartbeatMs ?? 15_000,
    (_req, res, streams, stillAllowed) =>
      follow<ApprovalEvent | { pending: Approval[] }>(res, streams, {
        stillAllowed,
        subscribe: async (onEvent) => approvals.subscribe(onEvent),
        first: async () => [{ pending: await approvals.list({ status: 'pending', limit: 500 }) }],
        text: (item) =>
          'pending' in item
            ? `event: pending\ndata: ${JSON.stringify({ approvals: item.pending })}\n\n`
            : `event: approval\ndata: ${JSON.stringify(item)}\n\n`,
        logger,
        what: 'approval event',
      }),
  );
}
