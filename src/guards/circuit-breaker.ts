/**
 * Circuit breakers, one per vault and upstream origin (`scheme://host:port`), on opossum's state
 * machine: closed → open → (ResetTimeoutSeconds) → half-open → one probe → closed or open again.
 * opossum's own trigger is a percentage only, so it is set out of reach (100) and the threshold
 * and percentage rules are checked here on every failure. opossum arms its timers with the
 * global clock, so this module does too (tests use Jest's fake timers). What counts as a
 * failure, the scope, the probe and eviction: docs/guards.md, "How a circuit decides".
 */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CircuitBreakerConfig } from '../config/schema';
import { GatewayError, isGatewayError, type ErrorCode } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import type { ProxyRequest, UpstreamResponse, UpstreamUpgrade } from '../http/types';
import { formatAuthority } from '../http/authority';
import { circuitSettings } from './circuit-settings';

export type CircuitState = 'closed' | 'halfOpen' | 'open';

/** The value of `vectra_circuit_state{origin,vault}`. */
export const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitState, number>> = {
  closed: 0,
  halfOpen: 1,
  open: 2,
};

export interface CircuitSnapshot {
  origin: string;
  /** The vault whose calls the circuit counts (Scope VaultOrigin); absent for an origin's own. */
  vault?: string;
  state: CircuitState;
  /** Failures and finished requests in the rolling window. */
  failures: number;
  requests: number;
  /** Why it opened, in words (open and half-open only). */
  reason?: string;
  /** Seconds until an open circuit lets a probe through. */
  retryAfterSeconds?: number;
}

export type Origin = Pick<ProxyRequest, 'scheme' | 'host' | 'port'>;

/** What a circuit is chosen by: the origin, and the vault the call is made for. */
export type CircuitTarget = Origin & { vault?: string };

export interface CircuitBreakers {
  /** The refusal for `request` when its circuit lets nothing through now; takes no probe. */
  check(request: CircuitTarget): GatewayError | undefined;
  /**
   * Runs one upstream call through its circuit's breaker. Resolves with the answer (a 5xx
   * too, after counting it as a failure); rejects with the call's error, or VEC_CIRCUIT_OPEN.
   * `call` is told whether it is the half-open circuit's probe.
   */
  run<T extends UpstreamResponse | UpstreamUpgrade>(
    request: CircuitTarget,
    call: (probe: boolean) => Promise<T>,
  ): Promise<T>;
  /** Every circuit known now; a closed one is forgotten after a window without traffic. */
  snapshot(): CircuitSnapshot[];
  /** Called on every state change; returns the function that unsubscribes. */
  onStateChange(
    listener: (origin: string, state: CircuitState, vault: string | undefined) => void,
  ): () => void;
  /** Stops the window timer and every breaker; calls then go straight to the upstream. */
  close(): void;
}

export interface CircuitBreakerDeps {
  logger?: Logger;
  /** Where `vectra_circuit_state` and `vectra_circuit_opens_total` are registered. */
  registry?: Registry;
}

const FAILURE_CODES: ReadonlySet<ErrorCode> = new Set([
  'VEC_UPSTREAM_TIMEOUT',
  'VEC_UPSTREAM_UNREACHABLE',
  'VEC_UPSTREAM_TLS_INVALID',
]);
const BUCKETS = 10;
/** Circuits kept at most (a few hundred bytes each, plus opossum's window). */
export const MAX_CIRCUITS = 10_000;

/** A 5xx answer, thrown inside fire() so that opossum counts it, then handed back to the caller. */
class ServerErrorAnswer<T> extends Error {
  constructor(readonly answer: T & { status: number }) {
    super(`HTTP ${answer.status} from the upstream`);
  }
}

type Call = () => Promise<UpstreamResponse | UpstreamUpgrade>;

interface Circuit {
  readonly key: string;
  readonly origin: string;
  readonly vault?: string;
  /** The origin, and the vault when scoped: for log lines, refusals and /health. */
  readonly label: string;
  readonly breaker: CircuitBreaker<[Call], UpstreamResponse | UpstreamUpgrade>;
  /** Drives the window's buckets (rotated by the registry's timer, flushed on close). */
  readonly rotation: EventEmitter;
  openedAt?: number;
  reason?: string;
  /** Set by the rule that opens the circuit, read by the `open` event. */
  pendingReason?: string;
  lastFailure?: string;
  inFlight: number;
}

/** `scheme://host:port`, IPv6 literals in brackets: the key of a circuit. */
export function originOf(request: Origin): string {
  return `${request.scheme}://${formatAuthority(request)}`;
}

/** Whether an upstream call's error says the upstream is failing. */
export function isUpstreamFailure(error: unknown): boolean {
  if (error instanceof ServerErrorAnswer) return true;
  return isGatewayError(error) && FAILURE_CODES.has(error.code);
}

export function createCircuitBreakers(
  config: CircuitBreakerConfig,
  deps: CircuitBreakerDeps = {},
): CircuitBreakers {
  const { threshold, windowMs, resetMs, percentage, byVault } = circuitSettings(config);
  const windowSeconds = windowMs / 1000;
  const log = (deps.logger ?? silentLogger).child({ component: 'circuit-breaker' });
  const circuits = new Map<string, Circuit>();
  const listeners = new Set<
    (origin: string, state: CircuitState, vault: string | undefined) => void
  >();
  const opens = deps.registry && registerMetrics(deps.registry, () => circuits.values());
  let closed = false;

  const ticker = setInterval(() => {
    for (const circuit of circuits.values()) {
      circuit.rotation.emit('rotate');
      if (idle(circuit) && !circuit.breaker.opened) forget(circuit);
    }
  }, windowMs / BUCKETS);
  ticker.unref?.();

  /** The circuit's key: the origin, after the vault when circuits are kept per vault. */
  function keyOf(request: CircuitTarget): string {
    const origin = originOf(request);
    // An origin never holds a space, so the key cannot be forged by a vault's name.
    return byVault && request.vault !== undefined ? `${request.vault} ${origin}` : origin;
  }

  function circuitFor(request: CircuitTarget): Circuit {
    const key = keyOf(request);
    const existing = circuits.get(key);
    if (existing) return existing;
    if (circuits.size >= MAX_CIRCUITS) evictOne();
    const origin = originOf(request);
    const vault = byVault ? request.vault : undefined;
    const label = vault === undefined ? origin : `${origin} (vault ${vault})`;
    const rotation = new EventEmitter();
    const breaker = new CircuitBreaker((call: Call) => call(), {
      name: label,
      timeout: false, // the upstream client answers VEC_UPSTREAM_TIMEOUT itself
      resetTimeout: resetMs,
      errorThresholdPercentage: 100, // out of reach: the rules are applied in failed()
      rollingCountTimeout: windowMs,
      rollingCountBuckets: BUCKETS,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: rotation,
      errorFilter: (error: unknown): boolean => !isUpstreamFailure(error),
    });
    const circuit: Circuit = { key, origin, vault, label, breaker, rotation, inFlight: 0 };
    breaker.on('failure', (error: unknown) => failed(circuit, error));
    breaker.on('open', () => opened(circuit));
    breaker.on('halfOpen', () => changed(circuit, 'halfOpen'));
    breaker.on('close', () => {
      // A fresh window: the failures that opened the circuit are over.
      for (let i = 0; i < BUCKETS; i++) rotation.emit('rotate');
      circuit.openedAt = undefined;
      circuit.reason = undefined;
      changed(circuit, 'closed');
    });
    circuits.set(key, circuit);
    return circuit;
  }

  function idle(circuit: Circuit): boolean {
    return circuit.inFlight === 0 && circuit.breaker.stats.fires === 0;
  }

  /** Makes room for one circuit: the oldest idle closed one goes, else the oldest idle one. */
  function evictOne(): void {
    let fallback: Circuit | undefined;
    for (const circuit of circuits.values()) {
      if (circuit.inFlight > 0) continue;
      if (circuit.breaker.closed) return forget(circuit);
      fallback ??= circuit;
    }
    if (fallback) forget(fallback);
  }

  function failed(circuit: Circuit, error: unknown): void {
    circuit.lastFailure = explain(error);
    const { breaker } = circuit;
    if (!breaker.closed) return; // a failed probe: opossum re-opens by itself
    const { failures, successes } = breaker.stats;
    const requests = failures + successes;
    if (failures >= threshold) {
      circuit.pendingReason = `${failures} failures within ${windowSeconds} s, last: ${circuit.lastFailure}`;
    } else if (percentage > 0 && requests >= threshold && failures * 100 >= percentage * requests) {
      const rate = Math.round((failures * 100) / requests);
      circuit.pendingReason = `${failures} of ${requests} requests (${rate}%, limit ${percentage}%) failed within ${windowSeconds} s, last: ${circuit.lastFailure}`;
    } else {
      return;
    }
    breaker.open();
  }

  function opened(circuit: Circuit): void {
    circuit.openedAt = Date.now();
    circuit.reason =
      circuit.pendingReason ?? `the probe after the reset timeout failed: ${circuit.lastFailure}`;
    circuit.pendingReason = undefined;
    opens?.inc(labelsOf(circuit));
    log.warn(
      `circuit for ${circuit.label} opened (${circuit.reason}); requests to it are refused for ${resetMs / 1000} s`,
      { ...labelsOf(circuit), code: 'VEC_CIRCUIT_OPEN', reason: circuit.reason },
    );
    notify(circuit, 'open');
  }

  function changed(circuit: Circuit, state: 'halfOpen' | 'closed'): void {
    const what =
      state === 'halfOpen'
        ? 'half-open: letting one probe request through'
        : 'closed: a request through the half-open circuit succeeded';
    log.info(`circuit for ${circuit.label} ${what}`, labelsOf(circuit));
    notify(circuit, state);
  }

  function notify(circuit: Circuit, state: CircuitState): void {
    for (const listener of listeners) listener(circuit.origin, state, circuit.vault);
  }

  function forget(circuit: Circuit): void {
    circuit.breaker.shutdown();
    circuits.delete(circuit.key);
  }

  /** The refusal for a circuit that takes no request now. */
  function refusal(circuit: Circuit): GatewayError {
    const { origin, label, breaker } = circuit;
    const retryAfter = breaker.opened ? secondsUntilHalfOpen(circuit) : 1;
    const state = breaker.opened
      ? `sends it nothing for now`
      : `is letting one probe request through to see whether it recovered`;
    return new GatewayError(
      'VEC_CIRCUIT_OPEN',
      `The circuit for ${label} is open (${circuit.reason ?? 'it failed repeatedly'}): Vectra ${state}; retry after ${retryAfter} s.`,
      { context: { origin, retryAfter } },
    );
  }

  function secondsUntilHalfOpen(circuit: Circuit): number {
    const left = (circuit.openedAt ?? Date.now()) + resetMs - Date.now();
    return Math.max(1, Math.ceil(left / 1000));
  }

  return {
    check(request) {
      if (closed) return undefined;
      const circuit = circuits.get(keyOf(request));
      if (!circuit || circuit.breaker.closed || circuit.breaker.pendingClose) return undefined;
      return refusal(circuit);
    },

    async run<T extends UpstreamResponse | UpstreamUpgrade>(
      request: CircuitTarget,
      call: (probe: boolean) => Promise<T>,
    ): Promise<T> {
      if (closed) return call(false);
      const circuit = circuitFor(request);
      circuit.inFlight++;
      try {
        return (await circuit.breaker.fire(async () => {
          // opossum runs one call while half-open: this one is the probe.
          const answer = await call(circuit.breaker.halfOpen);
          if (answer.status >= 500) throw new ServerErrorAnswer(answer);
          return answer;
        })) as T;
      } catch (error) {
        if (error instanceof ServerErrorAnswer) return error.answer as T;
        if (CircuitBreaker.isOurError(error)) throw refusal(circuit);
        throw error;
      } finally {
        circuit.inFlight--;
      }
    },

    snapshot() {
      return [...circuits.values()].map((circuit) => {
        const { failures, successes } = circuit.breaker.stats;
        const state = stateOf(circuit);
        return {
          origin: circuit.origin,
          ...(circuit.vault === undefined ? {} : { vault: circuit.vault }),
          state,
          failures,
          requests: failures + successes,
          ...(state === 'closed' ? {} : { reason: circuit.reason }),
          ...(state === 'open' ? { retryAfterSeconds: secondsUntilHalfOpen(circuit) } : {}),
        };
      });
    },

    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    close() {
      if (closed) return;
      closed = true;
      clearInterval(ticker);
      for (const circuit of circuits.values()) forget(circuit);
      listeners.clear();
    },
  };
}

function stateOf(circuit: Circuit): CircuitState {
  if (circuit.breaker.opened) return 'open';
  return circuit.breaker.halfOpen ? 'halfOpen' : 'closed';
}

/** The metric labels (and log fields) of a circuit: the vault only when it is scoped by one. */
function labelsOf(circuit: Circuit): { origin: string; vault?: string } {
  return circuit.vault === undefined
    ? { origin: circuit.origin }
    : { origin: circuit.origin, vault: circuit.vault };
}

/** A failure in words, for the log line and the refusal. */
function explain(error: unknown): string {
  if (isGatewayError(error)) return `${error.code} ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function registerMetrics(registry: Registry, circuits: () => Iterable<Circuit>) {
  new Gauge({
    name: 'vectra_circuit_state',
    help: 'Circuit breaker state per upstream origin (and vault, with Scope VaultOrigin): 0 closed, 1 half-open, 2 open.',
    labelNames: ['origin', 'vault'] as const,
    registers: [registry],
    collect() {
      // Read at scrape time, so a forgotten circuit's series goes away with it.
      this.reset();
      for (const circuit of circuits()) {
        this.set(labelsOf(circuit), CIRCUIT_STATE_VALUE[stateOf(circuit)]);
      }
    },
  });
  return new Counter({
    name: 'vectra_circuit_opens_total',
    help: 'Times a circuit opened, per upstream origin (and vault, with Scope VaultOrigin).',
    labelNames: ['origin', 'vault'] as const,
    registers: [registry],
  });
}
