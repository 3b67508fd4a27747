/**
 * Each agent's recent refusals, a risk factor: an agent that keeps getting refused is probing or
 * confused, and either way its next risky call deserves a human. One small ring of timestamps per
 * agent, in memory, with an injected clock (tests move time instead of sleeping).
 *
 * The history itself is per process; ./shared-denials.ts feeds it the refusals other replicas
 * answered, through the cache provider's pub/sub.
 */
import { GatewayError } from '../errors';
import type { AgentPrincipal } from '../identity/agent-auth';

export interface DenialHistoryOptions {
  /** How far back a refusal still counts. Default 10 minutes. */
  windowMs?: number;
  /** Refusals remembered per agent (the ring's size); more than that adds nothing. Default 20. */
  perAgent?: number;
  /** Agents remembered; the least recently refused is forgotten first. Default 10 000. */
  maxAgents?: number;
  now?: () => number;
}

export interface DenialHistory {
  readonly windowMs: number;
  /** The hook the pipeline calls when it refuses a request of `agent` (see `countsAsDenial`). */
  recordDenial(agent: string): void;
  /** Refusals of `agent` within the window. */
  recentDenials(agent: string): number;
}

interface Ring {
  times: number[];
  next: number;
}

export function createDenialHistory(options: DenialHistoryOptions = {}): DenialHistory {
  const windowMs = positiveInt('windowMs', options.windowMs ?? 10 * 60_000);
  const perAgent = positiveInt('perAgent', options.perAgent ?? 20);
  const maxAgents = positiveInt('maxAgents', options.maxAgents ?? 10_000);
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order; re-inserting on each refusal keeps it least-recent first.
  const rings = new Map<string, Ring>();

  return {
    windowMs,
    recordDenial(agent) {
      const ring = rings.get(agent) ?? { times: [], next: 0 };
      rings.delete(agent);
      rings.set(agent, ring);
      if (ring.times.length < perAgent) ring.times.push(now());
      else ring.times[ring.next] = now();
      ring.next = (ring.next + 1) % perAgent;
      if (rings.size > maxAgents) rings.delete(rings.keys().next().value as string);
    },
    recentDenials(agent) {
      const ring = rings.get(agent);
      if (!ring) return 0;
      const since = now() - windowMs;
      return ring.times.filter((t) => t > since).length;
    },
  };
}

/** The name the history is keyed by: an agent's tokens and its sessions share one history. */
export function agentOf(ctx: { principal?: AgentPrincipal }): string | undefined {
  const principal = ctx.principal;
  if (!principal) return undefined;
  if (principal.kind === 'agent') return principal.agentName;
  return principal.agentName ?? `session:${principal.sessionId}`;
}

/**
 * Which refusals count: 403 and 421 are judgements on what the agent tried (policy, SSRF guard,
 * unmatched host, forbidden vault, tunnel host mismatch); bad tokens, rate limits and Vectra's
 * own faults (5xx) say nothing about intent, and a request waiting for a human
 * (VEC_APPROVAL_REQUIRED) is not a refusal of the agent, or its retries would snowball.
 */
const WAITING_FOR_A_HUMAN: ReadonlySet<string> = new Set([
  'VEC_APPROVAL_REQUIRED',
  'VEC_APPROVAL_PENDING',
  'VEC_APPROVAL_EXPIRED',
  'VEC_APPROVAL_QUEUE_FULL',
]);

export function countsAsDenial(error: GatewayError): boolean {
  // Waiting for a human (or being told the approval is gone) is not the agent misbehaving.
  if (WAITING_FOR_A_HUMAN.has(error.code)) return false;
  return error.statusCode === 403 || error.statusCode === 421;
}

function positiveInt(field: string, value: number): number {
  if (Number.isInteger(value) && value > 0) return value;
  throw new GatewayError(
    'VEC_CONFIG_INVALID',
    `denial history: ${field} must be a whole number of at least 1.`,
    { context: { field } },
  );
}
