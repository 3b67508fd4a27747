/**
 * How factors become one score and one sentence. Combination is a noisy-OR,
 * `score = 1 − Π(1 − wᵢ)`: each weight is read as "how likely this factor alone makes the
 * request risky", so the score stays within 0..1 without capping, every factor raises it, one
 * strong factor dominates, and several weak ones add up with diminishing returns (unlike a
 * capped sum, which saturates at 1 from many small signals and then cannot rank requests).
 */
import type { RiskFactor } from './types';

/** Two decimals: the number printed in the sentence is the number compared with the threshold. */
export function roundScore(value: number): number {
  if (!Number.isFinite(value)) return 1; // fail towards caution, never towards 0
  return Math.round(Math.min(1, Math.max(0, value)) * 100) / 100;
}

export function combine(factors: readonly RiskFactor[]): number {
  const unlikely = factors.reduce((product, f) => product * (1 - clampWeight(f.weight)), 1);
  return roundScore(1 - unlikely);
}

/** Heaviest first, so a sentence (and a truncated log line) leads with what matters most. */
export function byWeight(factors: readonly RiskFactor[]): RiskFactor[] {
  return [...factors].sort((a, b) => b.weight - a.weight);
}

/** "a, b and c", heaviest first; what a request with no factor at all is called otherwise. */
export function describeFactors(factors: readonly RiskFactor[]): string {
  const clauses = byWeight(factors).map((f) => f.detail);
  if (clauses.length === 0) return 'nothing in the request looks risky';
  if (clauses.length === 1) return clauses[0];
  return `${clauses.slice(0, -1).join(', ')} and ${clauses[clauses.length - 1]}`;
}

/** The one sentence: "Risk 0.86 because DELETE removes data and the path names …." */
export function explain(score: number, factors: readonly RiskFactor[]): string {
  return `Risk ${score.toFixed(2)} because ${describeFactors(factors)}.`;
}

function clampWeight(weight: number): number {
  return Number.isFinite(weight) ? Math.min(1, Math.max(0, weight)) : 1;
}
