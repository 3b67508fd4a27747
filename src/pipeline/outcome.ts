/**
 * How a request's outcome is named, the same in its metric labels and its log line
 * (docs/observability.md): the vault, the service, the decision, the code and the entry point.
 */
import type { DecisionLabel, ExchangeLabels } from '../observability/proxy-metrics';
import type { Decision, RequestContext } from './types';

/** Codes of a request that ended waiting for a human, rather than refused by one or a policy. */
const HITL_CODES: ReadonlySet<string> = new Set(['VEC_APPROVAL_PENDING', 'VEC_APPROVAL_EXPIRED']);

/**
 * `allow` (the pipeline let it through, whatever happened to the answer later), `hitl` (ended
 * waiting for a human), `deny` (any other refusal), `abort` (dropped without an answer, or the
 * client left before a decision).
 */
export function decisionLabel(decision: Decision | undefined, code?: string): DecisionLabel {
  switch (decision?.kind) {
    case 'continue':
      return 'allow';
    case 'deny':
      return HITL_CODES.has(code ?? decision.error.code) ? 'hitl' : 'deny';
    default:
      return 'abort';
  }
}

export function vaultLabel(ctx: RequestContext): string {
  return ctx.vault ?? '(none)';
}

export function serviceLabel(ctx: RequestContext): string {
  return ctx.service?.name ?? (ctx.unmatched ? '(unmatched)' : '(none)');
}

/** The outcome's labels; the code is the audit row's (set by then), else the decision's. */
export function outcomeLabels(
  ctx: RequestContext,
  decision: Decision | undefined,
  codeLabel: (code: string | undefined) => string = (code) => code ?? 'none',
): ExchangeLabels {
  const code = ctx.audit.errorCode ?? (decision?.kind === 'deny' ? decision.error.code : undefined);
  return {
    vault: vaultLabel(ctx),
    service: serviceLabel(ctx),
    decision: decisionLabel(decision, code),
    code: codeLabel(code),
    entry: ctx.entry,
  };
}
