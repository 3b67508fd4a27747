/**
 * The upstream client wrapper that runs every call through the circuit of its origin (and vault):
 * fire() is what lets exactly one probe through a half-open circuit.
 */
import type { SendOptions, UpstreamClient } from '../http/upstream-client';
import type { CircuitBreakers, CircuitTarget, Origin } from './circuit-breaker';

/**
 * An UpstreamClient whose calls go through `breakers`: the circuit of the request's origin and of
 * the vault named in the call's options.
 */
export function createBreakingUpstream(
  upstream: UpstreamClient,
  breakers: Pick<CircuitBreakers, 'run'>,
): UpstreamClient {
  return {
    send: (request, options) =>
      // Given up before it started (the client left while an earlier stage ran): the upstream
      // is not called, and the circuit learns nothing from it.
      options?.signal?.aborted
        ? upstream.send(request, options)
        : breakers.run(circuitTarget(request, options), (probe) =>
            // The probe runs to its end whoever leaves: its outcome decides the circuit.
            upstream.send(request, probe ? withoutSignal(options) : options),
          ),
    upgrade: (request, options) =>
      breakers.run(circuitTarget(request, options), () => upstream.upgrade(request, options)),
    close: () => upstream.close(),
  };
}

/**
 * The four fields a circuit is chosen by, in one object shape. Spreading the whole request
 * instead cost about 3 µs per call (a copy of every field, and a new shape for the lookups).
 */
function circuitTarget(request: Origin, options: SendOptions | undefined): CircuitTarget {
  return { scheme: request.scheme, host: request.host, port: request.port, vault: options?.vault };
}

function withoutSignal(options: SendOptions | undefined): SendOptions | undefined {
  if (options?.signal === undefined) return options;
  const rest = { ...options };
  delete rest.signal;
  return rest;
}
