/**
 * A path holding `%2F` or `%5C` is judged twice: as it is sent (the escapes stay encoded on the
 * wire, since APIs such as GitLab's carry them inside one segment) and as a server that decodes
 * them into separators routes it (`/files/a%2F..%2Fadmin` is `/admin` there). The stricter
 * decision wins (Deny, then Hitl, then Allow), so a rule on `/admin` holds on either server.
 * Other paths are judged once: the check costs two substring searches.
 */
import { separatorsDecoded } from '../http/request-target';
import type { PolicyDecision, PolicyEffect, PolicyInput } from './types';

const SEVERITY: Record<PolicyEffect, number> = { Allow: 0, Hitl: 1, Deny: 2 };

/**
 * `judge` on `input` and, when its path holds encoded separators, on the decoded view too; the
 * result whose decision is stricter (the first on a tie), its reason naming the decoded path.
 */
export async function judgeBothPaths<T extends { decision: PolicyDecision }>(
  input: PolicyInput,
  judge: (input: PolicyInput) => Promise<T>,
): Promise<T> {
  const first = await judge(input);
  const effect = first.decision.effect;
  if (effect === 'Deny') return first;
  const decoded = separatorsDecoded(input.request.path);
  if (decoded === undefined) return first;
  const second = await judge({ ...input, request: { ...input.request, path: decoded } });
  if (SEVERITY[second.decision.effect] <= SEVERITY[effect]) return first;
  const reason = `${second.decision.reason} (The path was judged as ${decoded}, its encoded slashes decoded.)`;
  return { ...second, decision: { ...second.decision, reason } };
}

/** The engine's decision on both views of the path. */
export async function decideBothPaths(
  engine: { evaluate(input: PolicyInput): Promise<PolicyDecision> },
  input: PolicyInput,
): Promise<PolicyDecision> {
  const judged = await judgeBothPaths(input, async (view) => ({
    decision: await engine.evaluate(view),
  }));
  return judged.decision;
}
