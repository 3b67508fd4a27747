/**
 * The approval workflow's state, shared by every replica through the database: asking for an
 * approval, deciding it, using it, and holding a request until its decision. A decision made on
 * any replica reaches the replica holding the request through the cache's pub/sub at once, and
 * through a poll of the database every HumanInTheLoop.PollSeconds when pub/sub is down. The
 * same tick expires pending approvals past their TimeoutSeconds (each on one replica only: the
 * UPDATE that changes it returns it). Every change is an audit row, an event for the API's
 * stream, and a webhook delivery.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors';
import type { Cache } from '../cache/types';
import type { AuditEntry } from '../audit/audit-repository';
import type { Logger } from '../observability/types';
import type { Database } from '../storage/types';
import type { Timers } from '../timers';
import { approvalNotFound, effectiveStatus, publicView, withStatus } from './approval-status';
import { createWaitingRoom, type CancelSignal, type WaitOutcome } from './waiting-room';
import * as repo from './approval-repository';
import type { StoredApproval } from './approval-repository';
import type { Approval, ApprovalEvent, ApprovalEventType, ApprovalScope, Decider } from './types';

export const APPROVALS_CHANNEL = 'vectra:approvals';

export interface ApprovalServiceConfig {
  TimeoutSeconds: number;
  MaxPendingPerAgent: number;
  PollSeconds: number;
}

export interface ApprovalServiceDeps {
  db: Database;
  cache: Pick<Cache, 'publish' | 'subscribe'>;
  logger: Logger;
  audit?: { record(entry: AuditEntry): void };
  /** Told of every event this replica causes (the webhook). Must not throw. */
  notify?: (event: ApprovalEvent) => void;
  now?: () => number;
  /** The hold timeouts, and (when both are given) the poll's interval. */
  timers?: Timers & {
    setInterval?: (cb: () => void, ms: number) => unknown;
    clearInterval?: (handle: unknown) => void;
  };
}

/** What the approval stage knows of a request that needs a human. */
export type NewApproval = Omit<
  StoredApproval,
  | 'id'
  | 'createdAt'
  | 'expiresAt'
  | 'status'
  | 'decidedAt'
  | 'decidedBy'
  | 'scope'
  | 'standingUntil'
  | 'pathPattern'
  | 'comment'
  | 'usedAt'
  | 'revokedAt'
> & { requestId: string };

export interface ApproveInput {
  scope: ApprovalScope;
  /** For `session`: how long the standing approval lasts. */
  minutes?: number;
  /** For `session` and `always`: the path glob (default: the request's path). */
  pathPattern?: string;
  comment?: string;
}

export type ApprovalListener = (event: ApprovalEvent) => void;

export interface ApprovalService {
  start(): Promise<void>;
  close(): Promise<void>;
  request(input: NewApproval): Promise<Approval>;
  get(id: string): Promise<StoredApproval | undefined>;
  latestForRequest(requestKey: string): Promise<StoredApproval | undefined>;
  /** Standing approvals in force for this origin (path not matched). */
  standingFor(request: Parameters<typeof repo.standingFor>[1]): Promise<StoredApproval[]>;
  /** Uses an approved `once` approval for the request it was made for; false when already used. */
  use(approval: Approval, requestId: string): Promise<boolean>;
  list(query: Partial<repo.ApprovalQuery>): Promise<Approval[]>;
  listStanding(query: { vault?: string; agent?: string }): Promise<Approval[]>;
  approve(id: string, decider: Decider, input: ApproveInput): Promise<Approval>;
  deny(id: string, decider: Decider, reason: string): Promise<Approval>;
  revoke(id: string, decider: Decider): Promise<Approval>;
  /** Waits for a decision on `id`, at most `holdMs`; a decision made on any replica counts. */
  waitForDecision(id: string, holdMs: number, signal?: CancelSignal): Promise<WaitOutcome>;
  /** Requests held on this replica right now. */
  held(): number;
  /**
   * Approvals pending now, on every replica: kept up to date from the events (this replica's and
   * the others'), and recounted from the database at start and on every poll tick. No query.
   */
  pendingCount(): number;
  /**
   * Answers every held request as still pending, and every later one at once (shutdown: they
   * retry on another replica; a request judged while the listeners drain is not held past it).
   */
  releaseHeld(): void;
  /** Every event (this replica's and, through pub/sub, the others'); returns an unsubscribe. */
  subscribe(listener: ApprovalListener): () => void;
  /** One tick of the poll: expire what is due, release what was decided. For tests. */
  tick(): Promise<void>;
}

const systemTimers = {
  setTimeout: (cb: () => void, ms: number) => setTimeout(cb, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
};

/** The poll's interval: the injected one when given, else an unref'd system one. */
function pollInterval(timers: ApprovalServiceDeps['timers']): {
  set(cb: () => void, ms: number): unknown;
  clear(handle: unknown): void;
} {
  const { setInterval: set, clearInterval: clear } = timers ?? {};
  if (set && clear) {
    return { set: (cb, ms) => set.call(timers, cb, ms), clear: (h) => clear.call(timers, h) };
  }
  return {
    set: (cb, ms) => setInterval(cb, ms).unref(),
    clear: (handle) => clearInterval(handle as NodeJS.Timeout),
  };
}

const LIST_LIMIT_MAX = 500;

export function createApprovalService(
  config: ApprovalServiceConfig,
  deps: ApprovalServiceDeps,
): ApprovalService {
  const { db, cache, logger } = deps;
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? systemTimers;
  const every = pollInterval(deps.timers);
  const iso = (ms = now()) => new Date(ms).toISOString();
  /** How long an approved `once` approval stays usable after its decision. */
  const usableMs = config.TimeoutSeconds * 1000;
  const replica = randomBytes(8).toString('hex');
  const listeners = new Set<ApprovalListener>();
  const room = createWaitingRoom({ now, timers, usableMs });
  /** Held requests by approval id. */
  let unsubscribe: (() => Promise<void>) | undefined;
  let pollTimer: unknown;
  let ticking: Promise<void> | undefined;
  let closed = false;
  let pendingNow = 0;

  /** Pending approvals as the events change them (the poll's recount corrects any drift). */
  function countEvent(type: ApprovalEventType): void {
    if (type === 'created') pendingNow += 1;
    else if (type === 'approved' || type === 'denied' || type === 'expired')
      pendingNow = Math.max(0, pendingNow - 1);
  }

  async function recount(): Promise<void> {
    pendingNow = await repo.countAllPending(db, iso());
  }

  /**
   * Tells the listeners; for an event of this replica (`local`) also the webhook, the audit log
   * (the row under `requestId` when a request caused it) and the other replicas.
   */
  function emit(
    type: ApprovalEventType,
    approval: Approval,
    local: boolean,
    requestId?: string,
  ): void {
    const event: ApprovalEvent = { type, at: iso(), approval: publicView(approval) };
    countEvent(type);
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        logger.warn('approval event listener failed', { err });
      }
    }
    if (!local) return;
    deps.notify?.(event);
    audited(event, requestId);
    cache
      .publish(APPROVALS_CHANNEL, JSON.stringify({ replica, type, id: approval.id }))
      .catch((err: unknown) =>
        logger.warn('approval event not published; other replicas will poll', { err }),
      );
  }

  function audited(event: ApprovalEvent, requestId?: string): void {
    const { approval } = event;
    const refused = event.type === 'created' || event.type === 'denied' || event.type === 'expired';
    deps.audit?.record({
      at: new Date(event.at),
      requestId: requestId ?? approval.id,
      agent: approval.agent,
      vault: approval.vault,
      method: approval.method,
      host: approval.host,
      port: approval.port,
      path: approval.path,
      service: approval.service ?? undefined,
      decision: refused ? 'deny' : 'allow',
      latencyMs: 0,
      bytesIn: 0,
      bytesOut: 0,
      errorCode: AUDIT_CODES[event.type],
      event: `approval.${event.type}`,
      approvalId: approval.id,
    });
  }

  async function onMessage(message: string): Promise<void> {
    let parsed: { replica?: string; type?: string; id?: string };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.replica === replica || typeof parsed.id !== 'string') return;
    const approval = await repo.getApproval(db, parsed.id);
    if (!approval) return;
    room.release(approval);
    emit(parsed.type as ApprovalEventType, approval, false);
  }

  async function tick(): Promise<void> {
    const at = iso();
    for (const approval of await repo.expireDue(db, at)) {
      room.release(approval);
      emit('expired', approval, true);
    }
    await recount();
    const waiting = room.waitingIds();
    if (waiting.length === 0) return;
    for (const approval of await repo.getApprovals(db, waiting)) room.release(approval);
  }

  function runTick(): void {
    if (ticking || closed) return;
    ticking = tick()
      .catch((err: unknown) => logger.warn('approval poll failed; retrying', { err }))
      .finally(() => (ticking = undefined));
  }

  /** Records a decision on a pending approval (409 when it is not pending any more). */
  async function decided(
    id: string,
    status: 'approved' | 'denied',
    decidedBy: Decider,
    fields: Partial<
      Pick<repo.DecisionUpdate, 'scope' | 'standingUntil' | 'pathPattern' | 'comment'>
    >,
  ): Promise<Approval> {
    const change: repo.DecisionUpdate = {
      status,
      decidedAt: iso(),
      decidedBy,
      scope: fields.scope ?? null,
      standingUntil: fields.standingUntil ?? null,
      pathPattern: fields.pathPattern ?? null,
      comment: fields.comment ?? null,
    };
    if (!(await repo.decideApproval(db, id, change))) {
      const current = await repo.getApproval(db, id);
      if (!current) throw approvalNotFound(id);
      throw new GatewayError(
        'VEC_APPROVAL_DECIDED',
        `Approval ${id} is ${effectiveStatus(current, now())}; a decision is final.`,
        { context: { approvalId: id, status: effectiveStatus(current, now()) } },
      );
    }
    const approval = (await repo.getApproval(db, id))!;
    room.release(approval);
    emit(status, approval, true);
    return publicView(approval);
  }

  return {
    async start() {
      unsubscribe = await cache
        .subscribe(APPROVALS_CHANNEL, (message) => {
          onMessage(message).catch((err: unknown) =>
            logger.warn('approval event from another replica not read', { err }),
          );
        })
        .catch((err: unknown) => {
          logger.warn('approval events not subscribed; decisions reach this replica by polling', {
            err,
          });
          return undefined;
        });
      await recount().catch((err: unknown) =>
        logger.warn('pending approvals not counted; the poll will count them', { err }),
      );
      pollTimer = every.set(runTick, config.PollSeconds * 1000);
    },

    async close() {
      closed = true;
      if (pollTimer !== undefined) every.clear(pollTimer);
      await ticking;
      await unsubscribe?.().catch(() => undefined);
      listeners.clear();
    },

    async request(input) {
      const createdAt = now();
      const at = iso(createdAt);
      const pending = await repo.countPending(db, input.agent, at);
      if (pending >= config.MaxPendingPerAgent) {
        throw new GatewayError(
          'VEC_APPROVAL_QUEUE_FULL',
          `Agent "${input.agent}" already has ${pending} requests waiting for a human (HumanInTheLoop.MaxPendingPerAgent = ${config.MaxPendingPerAgent}); retry once some are decided.`,
          { context: { retryAfter: config.PollSeconds * 5, pending } },
        );
      }
      const { requestId, ...fields } = input;
      const approval: StoredApproval = {
        ...fields,
        id: `apr_${randomBytes(16).toString('hex')}`,
        createdAt: at,
        expiresAt: iso(createdAt + config.TimeoutSeconds * 1000),
        status: 'pending',
        decidedAt: null,
        decidedBy: null,
        scope: null,
        standingUntil: null,
        pathPattern: null,
        comment: null,
        usedAt: null,
        revokedAt: null,
      };
      await repo.insertApproval(db, approval);
      emit('created', approval, true, requestId);
      return approval;
    },

    get: (id) => repo.getApproval(db, id).then((a) => a && withStatus(a, now(), usableMs)),
    latestForRequest: (key) =>
      repo.latestForRequest(db, key).then((a) => a && withStatus(a, now(), usableMs)),
    standingFor: (request) => repo.standingFor(db, request, iso()),

    async use(approval, requestId) {
      if (effectiveStatus(approval, now(), usableMs) !== 'approved') return false;
      const at = iso();
      if (!(await repo.useApproval(db, approval.id, at, iso(now() - usableMs)))) return false;
      emit('used', { ...approval, status: 'used', usedAt: at }, true, requestId);
      return true;
    },

    async list(query) {
      const limit = Math.min(Math.max(1, query.limit ?? 100), LIST_LIMIT_MAX);
      const rows = await repo.listApprovals(db, { ...query, limit }, iso());
      return rows.map((a) => publicView(withStatus(a, now(), usableMs)));
    },

    async listStanding(query) {
      return (await repo.listStanding(db, query, iso())).map(publicView);
    },

    approve(id, decider, input) {
      const standing = input.scope !== 'once';
      return decided(id, 'approved', decider, {
        scope: input.scope,
        standingUntil:
          input.scope === 'session' ? iso(now() + (input.minutes ?? 0) * 60_000) : null,
        pathPattern: standing ? input.pathPattern : null,
        comment: input.comment,
      });
    },

    deny: (id, decider, reason) => decided(id, 'denied', decider, { comment: reason }),

    async revoke(id, decider) {
      if (!(await repo.revokeStanding(db, id, iso()))) {
        const current = await repo.getApproval(db, id);
        if (!current) throw approvalNotFound(id);
        throw new GatewayError(
          'VEC_APPROVAL_NOT_FOUND',
          `Approval ${id} is not a standing approval in force.`,
          { context: { approvalId: id } },
        );
      }
      const approval = (await repo.getApproval(db, id))!;
      logger.info(`standing approval ${id} revoked by ${decider.name}`, { approvalId: id });
      emit('revoked', approval, true);
      return publicView(approval);
    },

    waitForDecision(id, holdMs, signal) {
      const waiting = room.wait(id, holdMs, signal);
      // Decided between the stage's read and now: the tick would find it, but not at once.
      repo
        .getApproval(db, id)
        .then((approval) => approval && room.release(approval))
        .catch(() => undefined);
      return waiting;
    },

    held: () => room.held(),
    pendingCount: () => pendingNow,
    releaseHeld: () => room.releaseAll(),

    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    tick,
  };
}

const AUDIT_CODES: Record<ApprovalEventType, string | undefined> = {
  created: 'VEC_APPROVAL_PENDING',
  approved: undefined,
  denied: 'VEC_APPROVAL_DENIED',
  expired: 'VEC_APPROVAL_EXPIRED',
  used: undefined,
  revoked: undefined,
};

export { checkMinutes, effectiveStatus, publicView } from './approval-status';
export type { CancelSignal, WaitOutcome } from './waiting-room';
