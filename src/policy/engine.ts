/**
 * Builds the policy engine the configuration asks for (Policy section): none when disabled
 * (every request allowed, which the gateway announces at start), the Internal provider over the
 * policy directory, or OPA.
 */
import { resolve } from 'node:path';
import type { VectraConfig } from '../config/schema';
import type { Logger } from '../observability/types';
import { createInternalEngine } from './internal-engine';
import { createOpaEngine } from './opa-engine';
import type { PolicyEngine } from './types';

export interface PolicyEngineDeps {
  logger: Logger;
  /** Replaces global fetch for OPA (tests). */
  fetch?: typeof fetch;
  /** Watch the policy directory (default true). */
  watch?: boolean;
}

export const DISABLED_REASON =
  'The policy engine is disabled (Policy.Enabled=false), so every request is allowed.';

/** The engine of Policy.Enabled=false: allows everything, and says so in every decision. */
export const disabledPolicyEngine: PolicyEngine = Object.freeze({
  provider: 'Disabled' as const,
  evaluate: async () => ({ effect: 'Allow' as const, reason: DISABLED_REASON }),
  explain: async () => ({
    decision: { effect: 'Allow' as const, reason: DISABLED_REASON },
    trace: [],
  }),
  needsBody: () => false,
  status: () => ({ ready: true, stale: false, description: 'policy engine disabled' }),
  close: async () => undefined,
});

export async function createPolicyEngine(
  policy: VectraConfig['Policy'],
  deps: PolicyEngineDeps,
): Promise<PolicyEngine> {
  if (!policy.Enabled) return disabledPolicyEngine;
  if (policy.DefaultProvider === 'Opa') {
    const opa = policy.Providers.Opa;
    return createOpaEngine({
      baseUrl: opa.BaseUrl,
      path: opa.Path,
      timeoutMs: opa.TimeoutMilliseconds,
      failOpen: opa.FailOpen,
      unreadableBody: opa.UnreadableBody,
      logger: deps.logger,
      fetch: deps.fetch,
    });
  }
  return createInternalEngine({
    directory: resolve(policy.Providers.Internal.Directory),
    logger: deps.logger,
    watch: deps.watch,
  });
}

/**
 * `engine` with every evaluation timed into `observe` (seconds, failures too), for the policy
 * stage; the engine's other members are its own.
 */
export function timedPolicyEngine(
  engine: PolicyEngine,
  observe: (seconds: number) => void,
): PolicyEngine {
  return {
    provider: engine.provider,
    async evaluate(input) {
      const started = performance.now();
      try {
        return await engine.evaluate(input);
      } finally {
        observe((performance.now() - started) / 1000);
      }
    },
    ...(engine.explain && { explain: (input) => engine.explain!(input) }),
    ...(engine.needsBody && { needsBody: () => engine.needsBody!() }),
    ...(engine.status && { status: () => engine.status!() }),
    close: () => engine.close(),
  };
}
