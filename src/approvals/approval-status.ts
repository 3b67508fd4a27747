/**
 * What an approval's status is at a given time (an undecided one past its expiry is expired even
 * before a tick records it), its public view, and the checks of a decision's fields.
 */
import { GatewayError } from '../errors';
import type { StoredApproval } from './approval-repository';
import type { Approval } from './types';

const MINUTES_MAX = 7 * 24 * 60;

export function approvalNotFound(id: string): GatewayError {
  return new GatewayError('VEC_APPROVAL_NOT_FOUND', `No approval has the id ${id}.`, {
    context: { approvalId: id },
  });
}

/**
 * A pending approval past its expiry is expired, whether or not a tick has recorded it yet; so
 * is an approved `once` approval not used within TimeoutSeconds of its decision (a yes given
 * long ago is not a yes to a request sent now). `usableMs` is that window.
 */
export function effectiveStatus(
  approval: Approval,
  nowMs: number,
  usableMs = Infinity,
): Approval['status'] {
  if (approval.status === 'pending' && Date.parse(approval.expiresAt) <= nowMs) return 'expired';
  if (
    approval.status === 'approved' &&
    approval.scope === 'once' &&
    approval.decidedAt !== null &&
    Date.parse(approval.decidedAt) + usableMs <= nowMs
  ) {
    return 'expired';
  }
  return approval.status;
}

export function withStatus<T extends Approval>(approval: T, nowMs: number, usableMs?: number): T {
  const status = effectiveStatus(approval, nowMs, usableMs);
  return status === approval.status ? approval : { ...approval, status };
}

/** The approval without its request key (an internal detail). */
export function publicView(approval: Approval | StoredApproval): Approval {
  if (!('requestKey' in approval)) return approval;
  const view: Partial<StoredApproval> = { ...approval };
  delete view.requestKey;
  return view as Approval;
}

/** Checks a `minutes` value for a `session` approval. */
export function checkMinutes(minutes: unknown): number {
  if (
    typeof minutes !== 'number' ||
    !Number.isInteger(minutes) ||
    minutes < 1 ||
    minutes > MINUTES_MAX
  ) {
    throw new GatewayError(
      'VEC_REQUEST_INVALID',
      `\`minutes\` must be a whole number from 1 to ${MINUTES_MAX} for scope "session".`,
      { context: { field: 'minutes' } },
    );
  }
  return minutes;
}
