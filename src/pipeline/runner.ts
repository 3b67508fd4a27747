/**
 * The pipeline runner: one short loop over the stages declared in ./stages.ts (Envoy's filter
 * chain in miniature). A stage continues, denies, aborts, or pauses and resumes later; the first
 * decision that is not `continue` ends the request. Fail closed: a stage that throws anything
 * but a GatewayError, answers with something that is not a decision, or overruns its time
 * budget is a deny with VEC_PIPELINE_STAGE_FAILED. A stage that may fail open does so itself,
 * from its own configuration, and logs every use; the runner never does.
 */
import { GatewayError } from '../errors';
import { isThenable } from '../thenable';
import type { Timers } from '../timers';
import type { Logger } from '../observability/types';
import type { RequestTrace, SpanAttributes } from '../observability/tracing';
import { outcomeLabels } from './outcome';
import { CONTINUE, type Decision, type RequestContext, type Stage } from './types';

export interface PipelineOptions {
  logger: Logger;
  /** Budget of one stage run, a pause not included; a stage's own `timeoutMs` wins. Default 10 s. */
  stageTimeoutMs?: number;
  now?: () => number;
  /** Injected by tests so that a timeout needs no real waiting. */
  timers?: Timers;
  /**
   * Told every request's final decision (after its audit fields are set), for what watches
   * outcomes across requests, such as the risk score's history of refusals. Must not throw.
   */
  onDecision?: (ctx: RequestContext, decision: Decision) => void;
}

export type Pipeline = (ctx: RequestContext) => Promise<Decision>;

export const DEFAULT_STAGE_TIMEOUT_MS = 10_000;
/** setTimeout fires at once for longer delays, so longer budgets are refused. */
const MAX_TIMER_MS = 2_147_483_647;

const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

class StageTimeout extends Error {
  constructor(readonly budgetMs: number) {
    super(`stage did not decide within ${budgetMs} ms`);
  }
}

export function createPipeline(stages: readonly Stage[], options: PipelineOptions): Pipeline {
  const defaultBudget = checkBudget('stageTimeoutMs', options.stageTimeoutMs);
  checkStages(stages);
  const log = options.logger.child({ component: 'pipeline' });
  const now = options.now ?? Date.now;
  const timers = options.timers ?? systemTimers;
  const { onDecision } = options;

  /**
   * The stage's decision, or the deny its failure turns into. Never rejects. Written for the hot
   * path: a stage that answers synchronously costs no promise, and one that answers later costs
   * one promise and one timer (no Promise.race, no wrapper promises).
   */
  function decide(stage: Stage, ctx: RequestContext): Decision | Promise<Decision> {
    let result: Decision | Promise<Decision>;
    try {
      result = stage(ctx);
    } catch (err) {
      return failed(stage, err, ctx);
    }
    if (!isThenable(result)) return checked(stage, result, ctx);
    const pending = result;
    const budget = stage.timeoutMs ?? defaultBudget;
    return new Promise<Decision>((resolve) => {
      let timer: unknown;
      let done = false;
      const settle = (decision: () => Decision) => {
        if (done) return;
        done = true;
        if (timer !== undefined) timers.clearTimeout(timer);
        resolve(decision());
      };
      if (Number.isFinite(budget)) {
        timer = timers.setTimeout(
          () => settle(() => failed(stage, new StageTimeout(budget), ctx)),
          budget,
        );
      }
      pending.then(
        (decision) => settle(() => checked(stage, decision, ctx)),
        (err: unknown) => settle(() => failed(stage, err, ctx)),
      );
    });
  }

  /**
   * A paused stage's eventual decision; no time budget while paused (approval has its own). The
   * pause is counted in `ctx.pausedMs`, which is not the gateway's own latency.
   */
  async function resumed(stage: Stage, resume: Promise<Decision>, ctx: RequestContext) {
    const pausedAt = now();
    try {
      return checked(stage, await resume, ctx);
    } catch (err) {
      return failed(stage, err, ctx);
    } finally {
      ctx.pausedMs = (ctx.pausedMs ?? 0) + (now() - pausedAt);
    }
  }

  function checked(stage: Stage, decision: Decision, ctx: RequestContext): Decision {
    const valid =
      decision?.kind === 'continue' ||
      (decision?.kind === 'deny' && decision.error instanceof GatewayError) ||
      (decision?.kind === 'abort' && typeof decision.reason === 'string') ||
      (decision?.kind === 'pause' && typeof decision.resume?.then === 'function');
    if (valid) return decision;
    return failed(stage, new TypeError('stage returned something that is not a decision'), ctx);
  }

  function failed(stage: Stage, err: unknown, ctx: RequestContext): Decision {
    if (err instanceof GatewayError) return { kind: 'deny', error: err };
    const error = new GatewayError('VEC_PIPELINE_STAGE_FAILED', undefined, {
      cause: err,
      context: { stage: stage.name },
    });
    log.error(`stage ${stage.name} failed; request refused (fail closed)`, {
      stage: stage.name,
      code: error.code,
      requestId: ctx.requestId,
      err,
      timedOut: err instanceof StageTimeout || undefined,
    });
    return { kind: 'deny', error };
  }

  /**
   * One log line per refusal or drop, named as its metrics are (vault, service, decision, code,
   * entry: ./outcome.ts), so that a log query and a dashboard panel say the same thing.
   */
  function stopped(stage: Stage, decision: Decision, ctx: RequestContext): Decision {
    if (decision.kind === 'deny') {
      const { error } = decision;
      ctx.audit.decision = error.statusCode >= 500 ? 'error' : 'deny';
      ctx.audit.errorCode = error.code;
      ctx.audit.reason = error.message;
      // A 5xx refusal means something is broken (a database, a secret backend): worth a warning.
      const level = error.statusCode >= 500 ? 'warn' : 'info';
      log[level](`request refused by ${stage.name}: ${error.message}`, {
        ...outcomeLabels(ctx, decision),
        status: error.statusCode,
        stage: stage.name,
        requestId: ctx.requestId,
        elapsedMs: now() - ctx.startedAt,
      });
    } else if (decision.kind === 'abort') {
      ctx.audit.decision = 'deny';
      ctx.audit.reason = decision.reason;
      log.info(`connection dropped by ${stage.name}: ${decision.reason}`, {
        ...outcomeLabels(ctx, decision),
        stage: stage.name,
        requestId: ctx.requestId,
        elapsedMs: now() - ctx.startedAt,
      });
    }
    onDecision?.(ctx, decision);
    return decision;
  }

  function allowed(ctx: RequestContext): Decision {
    ctx.audit.decision = 'allow';
    onDecision?.(ctx, CONTINUE);
    return CONTINUE;
  }

  /** The loop of a request that carries a trace: the same, with a span around each stage. */
  async function runTraced(ctx: RequestContext, trace: RequestTrace): Promise<Decision> {
    for (const stage of stages) {
      const span = trace.stage(stage.name);
      let decision = decide(stage, ctx);
      if (isThenable(decision)) decision = await decision;
      while (decision.kind === 'pause') decision = await resumed(stage, decision.resume, ctx);
      span.end(...stageOutcome(decision));
      if (decision.kind !== 'continue') return stopped(stage, decision, ctx);
    }
    return allowed(ctx);
  }

  return async function runPipeline(ctx: RequestContext): Promise<Decision> {
    // Without a trace (tracing off) the loop below does nothing more than run the stages.
    if (ctx.trace) return runTraced(ctx, ctx.trace);
    for (const stage of stages) {
      let decision = decide(stage, ctx);
      if (isThenable(decision)) decision = await decision;
      while (decision.kind === 'pause') decision = await resumed(stage, decision.resume, ctx);
      if (decision.kind !== 'continue') return stopped(stage, decision, ctx);
    }
    return allowed(ctx);
  };
}

/** A stage span's attributes (its decision, and the code of a refusal) and whether it failed. */
function stageOutcome(decision: Decision): [SpanAttributes, boolean] {
  if (decision.kind !== 'deny') return [{ decision: decision.kind }, false];
  const { error } = decision;
  return [{ decision: 'deny', code: error.code }, error.statusCode >= 500];
}

function checkBudget(field: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_STAGE_TIMEOUT_MS;
  if (value === Infinity) return value;
  if (!Number.isInteger(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new GatewayError(
      'VEC_CONFIG_INVALID',
      `pipeline: ${field} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, or Infinity.`,
      { context: { field } },
    );
  }
  return value;
}

function checkStages(stages: readonly Stage[]): void {
  const seen = new Set<string>();
  for (const stage of stages) {
    if (typeof stage !== 'function' || !stage.name || seen.has(stage.name)) {
      throw new GatewayError(
        'VEC_CONFIG_INVALID',
        `pipeline: every stage must be a named function with a unique name (got "${stage?.name ?? typeof stage}").`,
      );
    }
    seen.add(stage.name);
    if (stage.timeoutMs !== undefined) checkBudget(`${stage.name}.timeoutMs`, stage.timeoutMs);
  }
}
