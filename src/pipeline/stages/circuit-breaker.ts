/**
 * circuitBreaker: a request to an upstream origin whose circuit (for the request's vault, with
 * System.CircuitBreaker.Scope VaultOrigin) is open is refused here with
 * VEC_CIRCUIT_OPEN (503, Retry-After: the seconds until the circuit lets a probe through),
 * before `inject` resolves a credential for it. A half-open circuit passes requests while its one
 * probe is free; the upstream client wrapped by createBreakingUpstream() takes the probe when
 * `forward` sends, refuses the others with the same code, and records every outcome
 * (../../guards/circuit-breaker.ts).
 */
import type { CircuitBreakers } from '../../guards/circuit-breaker';
import { CONTINUE, type RequestContext, type Stage } from '../types';
import { checkDependency, checkOptions } from './options';

/** No options: the thresholds are the breakers' (System.CircuitBreaker). */
export type CircuitBreakerStageOptions = Record<string, never>;

export interface CircuitBreakerStageDeps {
  breakers: Pick<CircuitBreakers, 'check'>;
}

export function createCircuitBreakerStage(
  options: CircuitBreakerStageOptions,
  deps: CircuitBreakerStageDeps,
): Stage {
  checkOptions('circuitBreaker', options, []);
  checkDependency('circuitBreaker', deps, 'breakers', ['check']);
  const { breakers } = deps;

  return async function circuitBreaker(ctx: RequestContext) {
    const { scheme, host, port } = ctx.request;
    const refusal = breakers.check({ scheme, host, port, vault: ctx.vault });
    return refusal ? { kind: 'deny', error: refusal } : CONTINUE;
  };
}
