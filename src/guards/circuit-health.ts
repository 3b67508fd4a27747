/** The `/health` check that reports open and half-open circuits. */
import type { HealthCheck } from '../observability/health';
import type { CircuitBreakers, CircuitState } from './circuit-breaker';

/** `/health`: Degraded while any circuit is open or half-open, naming the origins (and vaults). */
export function circuitHealthCheck(breakers: Pick<CircuitBreakers, 'snapshot'>): HealthCheck {
  return {
    name: 'circuitBreakers',
    failureStatus: 'Degraded',
    async run() {
      const circuits = breakers.snapshot();
      const named = (state: CircuitState) =>
        circuits
          .filter((c) => c.state === state)
          .map((c) => (c.vault === undefined ? c.origin : `${c.origin} (vault ${c.vault})`));
      const open = named('open');
      const halfOpen = named('halfOpen');
      if (open.length === 0 && halfOpen.length === 0) {
        return {
          status: 'Healthy',
          description: `no open circuit (${circuits.length} circuit(s) tracked)`,
        };
      }
      const parts = [
        open.length > 0 ? `open for ${open.join(', ')}` : '',
        halfOpen.length > 0 ? `half-open (probing) for ${halfOpen.join(', ')}` : '',
      ];
      return {
        status: 'Degraded',
        description: `circuit ${parts.filter(Boolean).join('; ')}`,
        data: { open, halfOpen },
      };
    },
  };
}
