/**
 * The pipeline, declared once (DESIGN.md, "Request flow"): the order of the stages, what each
 * one decides and the error codes it can answer with. Every stage can also end in
 * VEC_PIPELINE_STAGE_FAILED, the runner's fail-closed refusal (./runner.ts).
 */
import type { ErrorCode } from '../errors';
import type { CircuitBreakers } from '../guards/circuit-breaker';
import type { RateLimiter } from '../guards/rate-limit';
import type { PolicyEngine } from '../policy/types';
import type { RiskScorer } from '../semantic/types';
import type { AgentAuthenticator } from '../identity/agent-auth';
import type { UpstreamClient } from '../http/upstream-client';
import type { SecretProvider } from '../secrets/types';
import type { VaultService } from '../vault/service-types';
import { createAuthenticateStage } from './stages/authenticate';
import { createApprovalStage, type ApprovalStageOptions } from './stages/approval';
import type { ApprovalService } from '../approvals/approval-service';
import { createCircuitBreakerStage } from './stages/circuit-breaker';
import { createForwardStage, type ForwardStageOptions } from './stages/forward';
import { createInjectStage } from './stages/inject';
import { createPolicyStage, policyInputOf } from './stages/policy';
import { createRateLimitStage } from './stages/rate-limit';
import { createSemanticStage } from './stages/semantic';
import { createResolveServiceStage } from './stages/resolve-service';
import type { Stage } from './types';

export const STAGE_ORDER = [
  'authenticate',
  'rateLimit',
  'resolveService',
  'policy',
  'semantic',
  'approval',
  'circuitBreaker',
  'inject',
  'forward',
] as const;

export type StageName = (typeof STAGE_ORDER)[number];

export interface StageDescription {
  /** What the stage decides, in one sentence. */
  readonly decides: string;
  /** The codes of its refusals. */
  readonly errors: readonly ErrorCode[];
}

export const STAGES: { readonly [name in StageName]: StageDescription } = {
  authenticate: {
    decides:
      'who the agent is (token from Proxy-Authorization or Authorization) and which vault it works in',
    errors: [
      'VEC_PROXY_AUTH_REQUIRED',
      'VEC_AUTH_REQUIRED',
      'VEC_AUTH_TOKEN_REJECTED',
      'VEC_AUTH_FORBIDDEN',
      'VEC_REQUEST_INVALID',
      'VEC_STORAGE_UNAVAILABLE',
    ],
  },
  rateLimit: {
    decides:
      'whether the agent is within its request rate (per agent; vault and service overrides)',
    errors: ['VEC_RATE_LIMITED'],
  },
  resolveService: {
    decides:
      "which service of the vault the request is for, or what the vault's unmatched-host setting says",
    errors: [
      'VEC_TUNNEL_HOST_MISMATCH',
      'VEC_UNMATCHED_HOST_DENIED',
      'VEC_VAULT_NOT_FOUND',
      'VEC_STORAGE_UNAVAILABLE',
    ],
  },
  policy: {
    decides: 'whether the policies allow, deny or send the request for review',
    errors: ['VEC_POLICY_DENIED', 'VEC_POLICY_UNAVAILABLE', 'VEC_APPROVAL_REQUIRED'],
  },
  // Risk factors feed approval; no refusal of its own.
  semantic: { decides: 'how risky the request looks, as an explainable score', errors: [] },
  approval: {
    decides: 'whether a human must approve the request first',
    errors: [
      'VEC_APPROVAL_REQUIRED',
      'VEC_APPROVAL_PENDING',
      'VEC_APPROVAL_DENIED',
      'VEC_APPROVAL_EXPIRED',
      'VEC_APPROVAL_QUEUE_FULL',
      'VEC_REQUEST_TOO_LARGE',
      'VEC_STORAGE_UNAVAILABLE',
    ],
  },
  circuitBreaker: {
    decides:
      'whether the upstream origin (scheme://host:port) may be tried: its circuit is closed, or half-open with its one probe free',
    errors: ['VEC_CIRCUIT_OPEN'],
  },
  inject: {
    decides: "the service's credential on the request",
    errors: ['VEC_CREDENTIAL_NOT_FOUND', 'VEC_SECRET_PROVIDER_UNAVAILABLE', 'VEC_REQUEST_INVALID'],
  },
  forward: {
    decides: "the upstream's answer",
    errors: [
      'VEC_UPSTREAM_BLOCKED',
      'VEC_UPSTREAM_UNREACHABLE',
      'VEC_UPSTREAM_TLS_INVALID',
      'VEC_UPSTREAM_TIMEOUT',
      'VEC_REQUEST_TOO_LARGE',
      'VEC_RESPONSE_TOO_LARGE',
      'VEC_CIRCUIT_OPEN',
    ],
  },
};

export interface PipelineDeps {
  authenticator: Pick<AgentAuthenticator, 'authenticate'>;
  vaults: Pick<VaultService, 'matchService' | 'getVault'>;
  secrets: Pick<SecretProvider, 'resolve'>;
  upstream: Pick<UpstreamClient, 'send' | 'upgrade'>;
  /** Guards: a stage whose dependency is absent is left out of the pipeline. */
  rateLimiter?: Pick<RateLimiter, 'consume' | 'hasServiceOverrides'>;
  breakers?: Pick<CircuitBreakers, 'check'>;
  policy?: { engine: Pick<PolicyEngine, 'evaluate' | 'needsBody'>; bodyLimit: number };
  riskScorer?: RiskScorer;
  /** The approval workflow; absent, a request that needs a human is refused. */
  approvals?: ApprovalService;
}

export interface PipelineStageOptions {
  /** HumanInTheLoop: the approval stage holds Hitl policy effects and risk at or above the threshold. */
  approval?: ApprovalStageOptions;
  forward?: ForwardStageOptions;
}

/** The stages built so far, in STAGE_ORDER. */
export function buildStages(deps: PipelineDeps, options: PipelineStageOptions = {}): Stage[] {
  const built: Partial<Record<StageName, Stage>> = {
    authenticate: createAuthenticateStage({}, deps),
    rateLimit:
      deps.rateLimiter &&
      createRateLimitStage({}, { limiter: deps.rateLimiter, vaults: deps.vaults }),
    resolveService: createResolveServiceStage({}, deps),
    // The risk scorer reads the body the policy stage buffered, so read it whenever one is set.
    policy:
      deps.policy &&
      createPolicyStage({ deferHitl: true, alwaysReadBody: Boolean(deps.riskScorer) }, deps.policy),
    semantic:
      deps.riskScorer &&
      createSemanticStage(
        {},
        { scorer: deps.riskScorer, bodyOf: (ctx) => policyInputOf(ctx)?.request.body },
      ),
    // Always present once policies can say Hitl: a Hitl effect must never pass as an Allow.
    approval:
      (deps.policy || deps.riskScorer) && options.approval
        ? createApprovalStage(options.approval, { approvals: deps.approvals })
        : undefined,
    circuitBreaker: deps.breakers && createCircuitBreakerStage({}, { breakers: deps.breakers }),
    inject: createInjectStage({}, deps),
    forward: createForwardStage(options.forward ?? {}, deps),
  };
  return STAGE_ORDER.flatMap((name) => {
    const stage = built[name];
    if (stage && stage.name !== name) {
      throw new Error(`stage "${name}" is built as a function named "${stage.name}"`);
    }
    return stage ? [stage] : [];
  });
}
