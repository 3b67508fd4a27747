/**
 * The Internal risk provider: the rules of ./factors.ts on the method, the path, the body size,
 * the body's statements (only when an earlier stage already read the body: this scorer never
 * buffers one, so large uploads keep streaming) and the agent's recent refusals, combined by
 * noisy-OR (./explain.ts) into one score with one sentence. Synchronous and dependency-free, so
 * it is also the floor and the fallback of the OpenAi provider.
 */
import type { DenialHistory } from './denials';
import { byWeight, combine, explain } from './explain';
import { bodyFactors, bodySizeFactor, denialFactor, methodFactor, pathFactors } from './factors';
import type { RiskAssessment, RiskFactor, RiskInput, RiskScorer } from './types';

export interface InternalScorerDeps {
  /** The recent-refusals history; without it that factor is left out. */
  denials?: Pick<DenialHistory, 'recentDenials' | 'windowMs'>;
}

export interface InternalScorer extends RiskScorer {
  readonly provider: 'Internal';
  /** The same assessment, synchronously. */
  assess(input: RiskInput): RiskAssessment;
}

export function createInternalScorer(deps: InternalScorerDeps = {}): InternalScorer {
  const { denials } = deps;

  function assess(input: RiskInput): RiskAssessment {
    const factors: RiskFactor[] = [methodFactor(input.method), ...pathFactors(input.path)];
    const size = bodySizeFactor(input.bodySize ?? byteLength(input.bodyText));
    if (size) factors.push(size);
    if (input.bodyText) factors.push(...bodyFactors(input.bodyText));
    if (denials && input.agent !== undefined) {
      const denied = denialFactor(denials.recentDenials(input.agent), denials.windowMs);
      if (denied) factors.push(denied);
    }
    const score = combine(factors);
    return {
      score,
      factors: byWeight(factors),
      explanation: explain(score, factors),
      provider: 'Internal',
    };
  }

  return {
    provider: 'Internal',
    assess,
    score: async (input) => assess(input),
  };
}

function byteLength(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Buffer.byteLength(text);
}
