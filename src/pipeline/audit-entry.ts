/** The audit entry of a finished request, read off its context. */
import type { RequestContext } from './types';
import type { AuditEntry } from '../audit/audit-repository';

/**
 * The audit entry for a finished request. Only named fields are read: the request's headers,
 * body, credentials and injected secrets never reach the entry.
 */
export function entryFromContext(
  ctx: RequestContext,
  outcome: { at: Date; latencyMs: number; bytesIn: number; bytesOut: number; status?: number },
): AuditEntry {
  const status = outcome.status ?? ctx.response?.status;
  const errorCode = ctx.audit.errorCode;
  return {
    at: outcome.at,
    requestId: ctx.requestId,
    agent: ctx.principal?.agentName ?? undefined,
    vault: ctx.vault,
    method: ctx.request.method,
    host: ctx.request.host,
    port: ctx.request.port,
    path: ctx.request.path,
    service: ctx.service?.name,
    decision: ctx.audit.decision ?? (errorCode || status === undefined ? 'error' : 'allow'),
    status,
    latencyMs: outcome.latencyMs,
    bytesIn: outcome.bytesIn,
    bytesOut: outcome.bytesOut,
    errorCode,
  };
}
