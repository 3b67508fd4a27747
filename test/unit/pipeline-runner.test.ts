import { GatewayError } from '../../src/errors';
import { testContext } from '../helpers/context';
import { createPipeline } from '../../src/pipeline/runner';
import { type Timers } from '../../src/timers';
import { CONTINUE, type Decision, type RequestContext, type Stage } from '../../src/pipeline/types';
import { recordingLogger } from '../helpers/waiting-and-processes';
import type { RequestTrace, SpanAttributes, TraceSpan } from '../../src/observability/tracing';

/** A RequestTrace that records the spans started and how each ended. */
function recordingTrace() {
  const spans: Array<{ name: string; ended?: { attributes?: SpanAttributes; failed?: boolean } }> =
    [];
  const span = (name: string): TraceSpan => {
    const entry: (typeof spans)[number] = { name };
    spans.push(entry);
    return {
      inject: () => undefined,
      end: (attributes, failed) => void (entry.ended = { attributes, failed }),
    };
  };
  const trace: RequestTrace = {
    stage: span,
    call: span,
    end: () => undefined,
  };
  return { spans, trace };
}

/** Timers that fire only when the test says so. */
function manualTimers(): Timers & { pending: Map<number, { fire: () => void; ms: number }> } {
  const pending = new Map<number, { fire: () => void; ms: number }>();
  let next = 1;
  return {
    pending,
    setTimeout(fire, ms) {
      const id = next++;
      pending.set(id, { fire, ms });
      return id;
    },
    clearTimeout(id) {
      pending.delete(id as number);
    },
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const context = (): RequestContext =>
  testContext({
    request: { scheme: 'http', host: 'api.example.com', port: 80 },
    requestId: 'req-1',
    now: () => 1000,
  });

/** A named stage that records its run and answers `decide()`. */
function stage(name: string, calls: string[], decide: () => Decision | Promise<Decision>): Stage {
  const run = async () => {
    calls.push(name);
    return decide();
  };
  Object.defineProperty(run, 'name', { value: name });
  return run;
}

const denied = (decision: Decision): GatewayError => {
  if (decision.kind !== 'deny') throw new Error(`expected a deny, got ${decision.kind}`);
  return decision.error;
};

describe('pipeline runner', () => {
  it('runs the stages in order and allows when all continue', async () => {
    const calls: string[] = [];
    const run = createPipeline(
      ['a', 'b', 'c'].map((n) => stage(n, calls, () => CONTINUE)),
      { logger: recordingLogger(), timers: manualTimers() },
    );
    const ctx = context();
    expect(await run(ctx)).toEqual(CONTINUE);
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(ctx.audit.decision).toBe('allow');
  });

  it('adds a span per stage to a traced request, ended with the stage decision', async () => {
    const calls: string[] = [];
    const run = createPipeline(
      [
        stage('a', calls, () => CONTINUE),
        stage('b', calls, () => ({ kind: 'deny', error: new GatewayError('VEC_POLICY_DENIED') })),
        stage('c', calls, () => CONTINUE),
      ],
      { logger: recordingLogger(), timers: manualTimers() },
    );
    const { spans, trace } = recordingTrace();
    const ctx = context();
    ctx.trace = trace;
    await run(ctx);
    expect(spans).toEqual([
      { name: 'a', ended: { attributes: { decision: 'continue' }, failed: false } },
      {
        name: 'b',
        ended: { attributes: { decision: 'deny', code: 'VEC_POLICY_DENIED' }, failed: false },
      },
    ]);
  });

  it('with tracing off (no trace on the context) reads it once and starts no span', async () => {
    const calls: string[] = [];
    const run = createPipeline(
      ['a', 'b', 'c'].map((n) => stage(n, calls, () => CONTINUE)),
      { logger: recordingLogger(), timers: manualTimers() },
    );
    const ctx = context();
    let reads = 0;
    Object.defineProperty(ctx, 'trace', {
      get: () => {
        reads += 1;
        return undefined;
      },
    });
    expect(await run(ctx)).toEqual(CONTINUE);
    expect(calls).toEqual(['a', 'b', 'c']);
    // One look per request, none per stage: the untraced loop is the plain one.
    expect(reads).toBe(1);
  });

  it('tells onDecision each final decision once, after the audit fields are set', async () => {
    const seen: Array<[string, string | undefined, string | undefined]> = [];
    const onDecision = (ctx: RequestContext, decision: Decision) =>
      seen.push([decision.kind, ctx.audit.decision, ctx.audit.errorCode]);
    const calls: string[] = [];
    const options = { logger: recordingLogger(), timers: manualTimers(), onDecision };
    const allowed = createPipeline([stage('a', calls, () => CONTINUE)], options);
    const refused = createPipeline(
      [
        stage('a', calls, () => CONTINUE),
        stage('b', calls, () => ({ kind: 'deny', error: new GatewayError('VEC_POLICY_DENIED') })),
        stage('c', calls, () => CONTINUE),
      ],
      options,
    );
    await allowed(context());
    await refused(context());
    expect(seen).toEqual([
      ['continue', 'allow', undefined],
      ['deny', 'deny', 'VEC_POLICY_DENIED'],
    ]);
    expect(calls).toEqual(['a', 'a', 'b']);
  });

  it('takes decisions from synchronous stages without timers, and fails closed when one throws', async () => {
    const timers = manualTimers();
    const sync = (name: string, decide: () => Decision): Stage => {
      const run = () => decide();
      Object.defineProperty(run, 'name', { value: name });
      return run;
    };
    const allowed = createPipeline([sync('a', () => CONTINUE), sync('b', () => CONTINUE)], {
      logger: recordingLogger(),
      timers,
    });
    expect(await allowed(context())).toEqual(CONTINUE);
    expect(timers.pending.size).toBe(0);

    const logger = recordingLogger();
    const broken = createPipeline(
      [
        sync('a', () => CONTINUE),
        sync('boom', () => {
          throw new TypeError('not a GatewayError');
        }),
      ],
      { logger, timers },
    );
    const ctx = context();
    expect(denied(await broken(ctx)).code).toBe('VEC_PIPELINE_STAGE_FAILED');
    expect(ctx.audit.errorCode).toBe('VEC_PIPELINE_STAGE_FAILED');
    const odd = createPipeline([sync('odd', () => ({ kind: 'maybe' }) as unknown as Decision)], {
      logger,
      timers,
    });
    expect(denied(await odd(context())).code).toBe('VEC_PIPELINE_STAGE_FAILED');
  });

  it('stops at the first deny, records it and logs it at info with its code', async () => {
    const calls: string[] = [];
    const logger = recordingLogger();
    const refusal = new GatewayError('VEC_UNMATCHED_HOST_DENIED');
    const run = createPipeline(
      [
        stage('a', calls, () => CONTINUE),
        stage('b', calls, () => ({ kind: 'deny', error: refusal })),
        stage('c', calls, () => CONTINUE),
      ],
      { logger, timers: manualTimers(), now: () => 1250 },
    );
    const ctx = context();
    expect(denied(await run(ctx))).toBe(refusal);
    expect(calls).toEqual(['a', 'b']);
    expect(ctx.audit).toEqual({
      decision: 'deny',
      errorCode: 'VEC_UNMATCHED_HOST_DENIED',
      reason: refusal.message,
    });
    expect(logger.lines).toEqual([
      expect.objectContaining({
        level: 'info',
        meta: expect.objectContaining({
          stage: 'b',
          code: 'VEC_UNMATCHED_HOST_DENIED',
          requestId: 'req-1',
          elapsedMs: 250,
        }),
      }),
    ]);
  });

  it('turns a thrown GatewayError into a deny with that error', async () => {
    const refusal = new GatewayError('VEC_CREDENTIAL_NOT_FOUND');
    const run = createPipeline(
      [
        stage('inject', [], () => {
          throw refusal;
        }),
      ],
      { logger: recordingLogger(), timers: manualTimers() },
    );
    expect(denied(await run(context()))).toBe(refusal);
  });

  it.each([
    [
      'an async throw',
      async () => {
        throw new Error('boom');
      },
    ],
    [
      'a synchronous throw',
      () => {
        throw new Error('boom');
      },
    ],
    ['an answer that is not a decision', async () => ({ kind: 'maybe' }) as unknown as Decision],
    [
      'a deny without a GatewayError',
      async () => ({ kind: 'deny', error: new Error('x') }) as never,
    ],
  ])('fails closed on %s: VEC_PIPELINE_STAGE_FAILED, logged at error', async (_, body) => {
    const logger = recordingLogger();
    const broken = Object.defineProperty(body, 'name', { value: 'policy' }) as Stage;
    const calls: string[] = [];
    const run = createPipeline([broken, stage('forward', calls, () => CONTINUE)], {
      logger,
      timers: manualTimers(),
    });
    const ctx = context();
    const error = denied(await run(ctx));
    expect(error.code).toBe('VEC_PIPELINE_STAGE_FAILED');
    expect(error.statusCode).toBe(500);
    expect(error.toJSON()).toMatchObject({ stage: 'policy' });
    expect(calls).toEqual([]);
    expect(ctx.audit).toMatchObject({ decision: 'error', errorCode: 'VEC_PIPELINE_STAGE_FAILED' });
    const fault = logger.lines.find((line) => line.level === 'error');
    expect(fault?.message).toContain('policy');
    expect(fault?.meta).toMatchObject({ stage: 'policy', code: 'VEC_PIPELINE_STAGE_FAILED' });
  });

  it('fails closed when a stage overruns its time budget (injected timers, no sleeping)', async () => {
    const timers = manualTimers();
    const logger = recordingLogger();
    const never = new Promise<Decision>(() => undefined);
    const run = createPipeline([stage('policy', [], () => never)], {
      logger,
      timers,
      stageTimeoutMs: 250,
    });
    const result = run(context());
    await Promise.resolve();
    const [timer] = [...timers.pending.values()];
    expect(timer.ms).toBe(250);
    timer.fire();
    expect(denied(await result).code).toBe('VEC_PIPELINE_STAGE_FAILED');
    expect(logger.lines.find((l) => l.level === 'error')?.meta).toMatchObject({
      stage: 'policy',
      timedOut: true,
    });
  });

  it('clears the timer of a stage that decided in time, and honours a stage budget', async () => {
    const timers = manualTimers();
    const slow = Object.assign(
      stage('forward', [], () => CONTINUE),
      { timeoutMs: Infinity },
    );
    const quick = Object.assign(
      stage('policy', [], () => CONTINUE),
      { timeoutMs: 40 },
    );
    const seen: number[] = [];
    const set = timers.setTimeout;
    timers.setTimeout = (fire, ms) => (seen.push(ms), set(fire, ms));
    await createPipeline([quick, slow], { logger: recordingLogger(), timers })(context());
    expect(seen).toEqual([40]);
    expect(timers.pending.size).toBe(0);
  });

  it('awaits a pause without a time budget and carries on with the resumed decision', async () => {
    const timers = manualTimers();
    const calls: string[] = [];
    const approval = deferred<Decision>();
    const run = createPipeline(
      [
        stage('approval', calls, () => ({ kind: 'pause', resume: approval.promise })),
        stage('forward', calls, () => CONTINUE),
      ],
      { logger: recordingLogger(), timers, stageTimeoutMs: 10 },
    );
    const ctx = context();
    const result = run(ctx);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(timers.pending.size).toBe(0); // paused: nothing can time it out
    expect(calls).toEqual(['approval']);
    approval.resolve(CONTINUE);
    expect(await result).toEqual(CONTINUE);
    expect(calls).toEqual(['approval', 'forward']);
    expect(ctx.audit.decision).toBe('allow');
  });

  it('stops on a resumed deny, and fails closed when the resume rejects', async () => {
    const refusal = new GatewayError('VEC_AUTH_FORBIDDEN');
    const paused = (resume: Promise<Decision>) =>
      createPipeline(
        [
          stage('approval', [], () => ({ kind: 'pause', resume })),
          stage('forward', [], () => {
            throw new Error('must not run');
          }),
        ],
        { logger: recordingLogger(), timers: manualTimers() },
      )(context());
    expect(denied(await paused(Promise.resolve({ kind: 'deny', error: refusal })))).toBe(refusal);
    expect(denied(await paused(Promise.reject(new Error('store down')))).code).toBe(
      'VEC_PIPELINE_STAGE_FAILED',
    );
  });

  it('awaits a pause that resumes into another pause', async () => {
    const calls: string[] = [];
    const again: Decision = { kind: 'pause', resume: Promise.resolve(CONTINUE) };
    const run = createPipeline(
      [
        stage('approval', calls, () => ({ kind: 'pause', resume: Promise.resolve(again) })),
        stage('forward', calls, () => CONTINUE),
      ],
      { logger: recordingLogger(), timers: manualTimers() },
    );
    expect(await run(context())).toEqual(CONTINUE);
    expect(calls).toEqual(['approval', 'forward']);
  });

  it('returns an abort as is and records it as a deny', async () => {
    const ctx = context();
    const decision = await createPipeline(
      [stage('resolveService', [], () => ({ kind: 'abort', reason: 'tunnel closed' }))],
      { logger: recordingLogger(), timers: manualTimers() },
    )(ctx);
    expect(decision).toEqual({ kind: 'abort', reason: 'tunnel closed' });
    expect(ctx.audit).toMatchObject({ decision: 'deny', reason: 'tunnel closed' });
  });

  it('refuses unnamed or duplicate stages and bad budgets at construction', () => {
    const logger = recordingLogger();
    const a = stage('a', [], () => CONTINUE);
    expect(() => createPipeline([a, a], { logger })).toThrow(/unique name/);
    expect(() => createPipeline([(async () => CONTINUE) as Stage], { logger })).toThrow(
      /named function/,
    );
    expect(() => createPipeline([a], { logger, stageTimeoutMs: 0 })).toThrow(/stageTimeoutMs/);
    expect(() =>
      createPipeline(
        [
          Object.assign(
            stage('b', [], () => CONTINUE),
            { timeoutMs: -1 },
          ),
        ],
        {
          logger,
        },
      ),
    ).toThrow(/b.timeoutMs/);
  });
});
