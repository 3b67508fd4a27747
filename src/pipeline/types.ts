/**
 * The pipeline contract (DESIGN.md, "Request flow"). One adapter per entry point (forward proxy,
 * MITM tunnel, `/proxy/<url>` route) turns a request into a RequestContext; the runner passes it
 * through the stages declared once in ./stages.ts; the adapter turns the final decision into a
 * response. Stages never see Node's `req`/`res`.
 */
import type { GatewayError } from '../errors';
import type { AgentPrincipal } from '../identity/agent-auth';
import type { Service } from '../vault/types';
import type { PolicyDecision, PolicyInput } from '../policy/types';
import type { RiskAssessment } from '../semantic/types';
import type { RequestCancellation } from '../http/cancellation';
import type { ProxyRequest, UpstreamResponse, UpstreamUpgrade } from '../http/types';
import type { RequestTrace } from '../observability/tracing';

export type EntryPoint = 'forward' | 'tunnel' | 'reverse';

/** The agent's rate-limit budget after this request, for the RateLimit-* response headers. */
export interface RateLimitState {
  /** Requests allowed per window (per-minute rate + burst). */
  limit: number;
  /** Requests left in the window after this one (0 when refused). */
  remaining: number;
  /** Seconds until the window ends and the count starts over. */
  resetSeconds: number;
}

export interface RequestContext {
  readonly requestId: string;
  readonly entry: EntryPoint;
  /** Milliseconds from the injected clock when the request arrived. */
  readonly startedAt: number;
  readonly clientAddress: string;
  /** What the entry adapter read; consumed (and cleared) by `authenticate`. */
  credentials: { token?: string; vault?: string };
  /** For `tunnel`: the CONNECT authority every request inside must match (`host:port`). */
  readonly tunnelAuthority?: string;
  request: ProxyRequest;
  /** Set by `authenticate`. */
  principal?: AgentPrincipal;
  vault?: string;
  /** Set by `resolveService`; undefined with `unmatched` set when no service matched. */
  service?: Service;
  unmatched?: 'passthrough';
  /** Set by `rateLimit`: the agent's budget (pipeline/response-headers.ts turns it into headers). */
  rateLimit?: RateLimitState;
  /** Set by `policy`: its decision and the input it judged (policyDecisionOf, policyInputOf). */
  policy?: { readonly decision: PolicyDecision; readonly input: PolicyInput };
  /** Set by `semantic`: the request's risk, which `approval` weighs. */
  risk?: RiskAssessment;
  /** Secret values injected into the request, so `forward` can redact them if echoed back. */
  injectedSecrets: string[];
  /** Set by `forward`. */
  response?: UpstreamResponse | UpstreamUpgrade;
  /** Set by `forward`: milliseconds from the upstream call to its answer's head (metrics). */
  upstreamMs?: number;
  /** Set by the runner: milliseconds spent paused, waiting for a human (metrics). */
  pausedMs?: number;
  /** Filled along the way, written as one audit row when the request ends. */
  audit: { decision?: 'allow' | 'deny' | 'error'; errorCode?: string; reason?: string };
  /** Cancelled by the entry adapter when the client goes away before its answer. */
  readonly cancellation: RequestCancellation;
  /**
   * Set by the entry adapter when tracing is on: the runner adds a span per stage, `forward` one
   * for the upstream call. Absent when tracing is off, and then nothing is traced.
   */
  trace?: RequestTrace;
}

export type Decision =
  | { kind: 'continue' }
  /** A refusal that is answered with the error's status and wire body. */
  | { kind: 'deny'; error: GatewayError }
  /** Drop the connection without an answer (e.g. a tunnel that must not carry on). */
  | { kind: 'abort'; reason: string }
  /** Held (approval); the runner awaits `resume` and carries on with its decision. */
  | { kind: 'pause'; resume: Promise<Decision> };

export interface Stage {
  (ctx: RequestContext): Decision | Promise<Decision>;
  /** Named function: the stage's name, used in logs and errors. */
  readonly name: string;
  /**
   * This stage's time budget in ms, overriding the runner's `stageTimeoutMs`; `Infinity` for a
   * stage whose dependency enforces its own deadline (forward: System.Proxy.UpstreamTimeoutSeconds).
   */
  readonly timeoutMs?: number;
}

export const CONTINUE: Decision = Object.freeze({ kind: 'continue' });
