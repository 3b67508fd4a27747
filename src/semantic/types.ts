/**
 * Risk scoring: what a scorer reads, and the explainable assessment it
 * answers with. The same `explanation` sentence goes into the approval refusal, the log line and
 * the audit row (STYLE.md point 5).
 */

/** What a scorer sees of a request: metadata always, the body only if another stage read it. */
export interface RiskInput {
  method: string;
  host: string;
  /** Path and query as sent upstream (`/v1/x?a=1`). */
  path: string;
  /** Lower-case media type from Content-Type, without parameters, when there is one. */
  contentType?: string;
  /** Body size in bytes: Content-Length, else the length of `bodyText`; undefined if unknown. */
  bodySize?: number;
  /**
   * The body as text, only when an earlier stage (policy) already buffered it under its own size
   * limit; scoring never reads the body stream itself, so large bodies keep streaming.
   */
  bodyText?: string;
  /** The agent's name, the key of its recent-denials history. */
  agent?: string;
}

/** One reason the request looks risky, with how much it weighs on its own (0..1). */
export interface RiskFactor {
  /** Stable, dotted: `method`, `path.admin`, `body.sql`, `agent.recentDenials`, `model`… */
  readonly name: string;
  readonly weight: number;
  /** A clause that completes "Risk 0.86 because …", lower-case unless it starts with a name. */
  readonly detail: string;
}

export interface RiskAssessment {
  /** 0..1, rounded to two decimals so that the sentence and the threshold test agree. */
  readonly score: number;
  /** The factors that contributed, heaviest first. */
  readonly factors: readonly RiskFactor[];
  /** One sentence: "Risk 0.86 because DELETE removes data, … and …." */
  readonly explanation: string;
  /** Who scored: the Internal rules, or the model (which falls back to the rules on failure). */
  readonly provider: 'Internal' | 'OpenAi';
}

export interface RiskScorer {
  readonly provider: 'Internal' | 'OpenAi';
  /**
   * Longest time a scoring may take, in ms, when it waits on something (the model); the
   * semantic stage widens its pipeline budget to fit, so the scorer's own fallback wins the race.
   */
  readonly timeoutMs?: number;
  /** Never rejects for a provider failure: a remote provider falls back to the Internal score. */
  score(input: RiskInput): Promise<RiskAssessment>;
}
