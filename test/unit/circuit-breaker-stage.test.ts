/** The circuitBreaker stage: construction checks, and what it decides on its own and in the runner. */
import { GatewayError } from '../../src/errors';
import { silentLogger } from '../../src/observability/types';
import { testContext } from '../helpers/context';
import { createPipeline } from '../../src/pipeline/runner';
import { createCircuitBreakerStage } from '../../src/pipeline/stages/circuit-breaker';
import { CONTINUE, type RequestContext, type Stage } from '../../src/pipeline/types';

const context = (): RequestContext =>
  testContext({ request: { host: 'api.example.com', path: '/x' } });

const open = new GatewayError(
  'VEC_CIRCUIT_OPEN',
  'The circuit for https://api.example.com:443 is open.',
  {
    context: { origin: 'https://api.example.com:443', retryAfter: 12 },
  },
);

describe('circuitBreaker stage', () => {
  it('is a function named circuitBreaker', () => {
    const stage = createCircuitBreakerStage({}, { breakers: { check: () => undefined } });
    expect(stage.name).toBe('circuitBreaker');
  });

  it('continues while the circuit takes requests, asking about the request origin and vault', async () => {
    const check = jest.fn(() => undefined);
    const ctx = context();
    ctx.vault = 'prod';
    await expect(createCircuitBreakerStage({}, { breakers: { check } })(ctx)).resolves.toBe(
      CONTINUE,
    );
    expect(check).toHaveBeenCalledWith({
      scheme: 'https',
      host: 'api.example.com',
      port: 443,
      vault: 'prod',
    });
  });

  it("denies with the breakers' refusal", async () => {
    const stage = createCircuitBreakerStage({}, { breakers: { check: () => open } });
    await expect(stage(context())).resolves.toEqual({ kind: 'deny', error: open });
  });

  it('stops the pipeline before later stages (inject, forward) run, and audits the code', async () => {
    const later = jest.fn(async (_ctx: RequestContext) => CONTINUE);
    const inject: Stage = async function inject(ctx: RequestContext) {
      return later(ctx);
    };
    const pipeline = createPipeline(
      [createCircuitBreakerStage({}, { breakers: { check: () => open } }), inject],
      { logger: silentLogger },
    );
    const ctx = context();
    await expect(pipeline(ctx)).resolves.toEqual({ kind: 'deny', error: open });
    expect(later).not.toHaveBeenCalled();
    expect(ctx.audit).toEqual({
      decision: 'error',
      errorCode: 'VEC_CIRCUIT_OPEN',
      reason: open.message,
    });
  });

  it('refuses to be built with an unknown option or without breakers', () => {
    expect(() =>
      createCircuitBreakerStage({ threshold: 3 } as never, {
        breakers: { check: () => undefined },
      }),
    ).toThrow(expect.objectContaining({ code: 'VEC_CONFIG_INVALID' }));
    expect(() => createCircuitBreakerStage({}, {} as never)).toThrow(
      /pipeline stage circuitBreaker: breakers must provide check\(\)/,
    );
  });
});
