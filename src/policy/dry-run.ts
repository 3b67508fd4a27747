/**
 * Dry runs: a request judged by the policies without being sent anywhere. Shared by
 * `vectra policy test` (locally, or through the API with --addr) and `POST /v1/policy/evaluate`,
 * which answer the same document and print it the same way.
 */
import type { PolicyDecision, PolicyEngine, PolicyInput, PolicyTrace } from './types';

export interface DryRunResult {
  decision: PolicyDecision;
  /** Each policy's part (Internal provider only). */
  trace?: PolicyTrace[];
  /** The document the policies saw. */
  input: PolicyInput;
}

export async function dryRun(engine: PolicyEngine, input: PolicyInput): Promise<DryRunResult> {
  if (engine.explain) {
    const { decision, trace } = await engine.explain(input);
    return { decision, trace, input };
  }
  return { decision: await engine.evaluate(input), input };
}

/** The human rendering: decision, deciding policy and rule, risk, reason, then each policy. */
export function formatDryRun(result: DryRunResult): string {
  const { decision, trace } = result;
  const lines = [`decision: ${decision.effect}`];
  if (decision.policy !== undefined) lines.push(`policy:   ${decision.policy}`);
  lines.push(`rule:     ${decision.rule ?? (decision.policy ? '(the policy default)' : '-')}`);
  if (decision.risk !== undefined) lines.push(`risk:     ${decision.risk}`);
  lines.push(`reason:   ${decision.reason}`);
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
