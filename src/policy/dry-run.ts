/**
 * Dry runs: a request judged by the policies without being sent anywhere. Shared by
 * `vectra policy test` (locally, or through the API with --addr) and `POST /v1/policy/evaluate`,
 * which answer the same document and print it the same way.
 */
import type { RequestOrigin } from '../approvals/held-request';
import { approvalRequired, type ApprovalStageOptions } from '../approvals/requirement';
import { riskInputFrom } from '../semantic/risk-input';
import type { RiskAssessment, RiskInput, RiskScorer } from '../semantic/types';
import { describedTarget } from './input';
import { decideEveryReading, judgeEveryReading } from './request-readings';
import type { PolicyDecision, PolicyEngine, PolicyInput, PolicyTrace } from './types';
import { denialOf } from './unreadable-body';

export interface DryRunResult {
  decision: PolicyDecision;
  /** Each policy's part (Internal provider only). */
  trace?: PolicyTrace[];
  /** The document the policies saw. */
  input: PolicyInput;
  /**
   * The risk score and its factors, as the semantic stage scores the request; `applied` false
   * when Semantic.Enabled is false (shown for information: the gateway does not score then).
   */
  risk?: RiskAssessment & { applied: boolean };
  /**
   * When the policies do not deny: whether a human would have to approve the request (policy
   * Hitl, or risk at HumanInTheLoop.Threshold), with the sentence of that refusal.
   */
  approval?: { required: boolean; message?: string; standingApproval?: string };
}

/** The stages after the policies that a dry run also runs: risk scoring and the approval test. */
export interface DryRunStages {
  scorer?: Pick<RiskScorer, 'score'>;
  /** Semantic.Enabled: the score counts towards approval (otherwise it is only shown). */
  scored?: boolean;
  approval?: ApprovalStageOptions;
  /** The id of a standing approval covering the request, if one does (the approval stage's check). */
  standing?: (request: RequestOrigin) => Promise<string | undefined>;
}

export async function dryRun(
  engine: PolicyEngine,
  input: PolicyInput,
  target: string,
  stages: DryRunStages = {},
): Promise<DryRunResult> {
  let result: DryRunResult;
  // Both views of a path with encoded slashes, as the policy stage judges it.
  const explain = engine.explain?.bind(engine);
  if (explain) {
    const { decision, trace } = await judgeEveryReading(input, explain);
    result = { decision, trace, input };
  } else {
    result = { decision: await decideEveryReading(engine, input), input };
  }
  return withRisk(result, target, stages);
}

/**
 * `result` with the risk score and the approval test the gateway would apply after the policies
 * (nothing is scored after a Deny: the request stops there). `target` is the path and query as
 * sent.
 */
export async function withRisk(
  result: DryRunResult,
  target: string,
  { scorer, scored = false, approval, standing }: DryRunStages,
): Promise<DryRunResult> {
  if (result.decision.effect === 'Deny') return result;
  const risk = scorer ? await scorer.score(riskInputOf(result.input, target)) : undefined;
  const required =
    approval && approvalRequired(result.decision, scored ? risk : undefined, approval);
  const standingId =
    required && standing ? await standingFor(result.input, target, standing) : undefined;
  let verdict: DryRunResult['approval'];
  if (standingId) {
    verdict = {
      required: false,
      standingApproval: standingId,
      message: `allowed by standing approval ${standingId}`,
    };
  } else if (approval) {
    verdict = required ? { required: true, message: required.message } : { required: false };
  }
  return {
    ...result,
    ...(risk ? { risk: { ...risk, applied: scored } } : {}),
    ...(verdict ? { approval: verdict } : {}),
  };
}

function standingFor(
  input: PolicyInput,
  target: string,
  standing: NonNullable<DryRunStages['standing']>,
): Promise<string | undefined> {
  const { agent, vault, request } = input;
  if (!agent.name || !vault) return Promise.resolve(undefined);
  return standing({
    agent: agent.name,
    vault,
    method: request.method,
    scheme: request.scheme,
    host: request.host,
    port: request.port,
    target,
  });
}

/** What the semantic stage would score for the described request. */
function riskInputOf(input: PolicyInput, target: string): RiskInput {
  const { request } = input;
  const body = request.body === undefined || request.body === null ? undefined : request.body;
  // No body described: no Content-Length, as a request without one would send.
  const noBody = request.bodySize === 0 && body === undefined;
  return riskInputFrom(
    {
      method: request.method,
      scheme: request.scheme,
      host: request.host,
      port: request.port,
      path: target,
      headers: request.headers,
      ...(request.bodySize === null || noBody ? {} : { contentLength: request.bodySize }),
    },
    body === undefined ? undefined : JSON.stringify(body),
    input.agent.name ?? undefined,
  );
}

/** The path and query of an absolute URL as the gateway sends them: canonical, no fragment. */
export function targetOf(url: string): string {
  const { path, query } = describedTarget(url);
  return `${path}${query}`;
}

/** The human rendering: decision, deciding policy and rule, risk, reason, then each policy. */
export function formatDryRun(result: DryRunResult): string {
  const { decision, trace } = result;
  const lines = [`decision: ${decision.effect}`];
  if (decision.policy !== undefined) lines.push(`policy:   ${decision.policy}`);
  lines.push(`rule:     ${decision.rule ?? (decision.policy ? '(the policy default)' : '-')}`);
  if (decision.risk !== undefined)
    lines.push(`risk:     ${decision.risk} (declared by the policy)`);
  lines.push(`reason:   ${decision.reason}`);
  if (decision.unreadableBody !== undefined) {
    const { code, statusCode } = denialOf(decision);
    lines.push(`refused:  ${statusCode} ${code} (the body could not be judged)`);
  }
  const { risk, approval } = result;
  if (risk) {
    const note = risk.applied ? '' : '; Semantic.Enabled is false, so the gateway does not use it';
    lines.push(`score:    ${risk.score.toFixed(2)} (${risk.provider} risk scoring${note})`);
    for (const factor of risk.factors) {
      lines.push(`  - ${factor.name} ${factor.weight.toFixed(2)}: ${factor.detail}`);
    }
  }
  if (approval) {
    const text = approval.required || approval.standingApproval ? approval.message : 'not needed';
    lines.push(`approval: ${text}`);
  }
  if (trace && trace.length > 0) {
    lines.push('policies:');
    const width = Math.max(...trace.map((t) => t.policy.length));
    for (const t of trace) {
      const name = t.policy.padEnd(width);
      if (!t.applies) {
        lines.push(`  ${name}  -      does not apply: ${t.skipped ?? ''}`);
        continue;
      }
      const by = t.rule ? `rule ${t.rule}` : 'default (no rule matched)';
      lines.push(`  ${name}  ${(t.effect ?? '').padEnd(5)}  ${by}`);
      for (const r of t.rules ?? []) {
        const outcome = r.matched ? 'matched' : `no: ${r.failed ?? ''}`;
        lines.push(`  ${' '.repeat(width)}    - ${r.rule} (priority ${r.priority}): ${outcome}`);
      }
    }
  }
  lines.push('(dry run: nothing was sent upstream)');
  return lines.join('\n');
}
