/**
 * The data plane: everything a proxied request passes through. The stores, the CA and upstream
 * client, the guards (rate limits, circuit breakers), the policy engine and risk scorer, the
 * pipeline of stages, the audit log, and the forward proxy server's factory.
 */
import type { Server } from 'node:http';
import type { Cache } from '../cache/types';
import type { VectraConfig } from '../config/schema';
import { createBreakingUpstream } from '../guards/breaking-upstream';
import { createCircuitBreakers, type CircuitBreakers } from '../guards/circuit-breaker';
import { createRateLimiter, type RateLimiter } from '../guards/rate-limit';
import { configuredOverrides } from '../config/rate-limit-override-list';
import {
  createRateLimitOverrides,
  type RateLimitOverridesService,
} from '../guards/rate-limit-overrides';
import { createAuditLog, type AuditLog } from '../audit/audit-log';
import { createMetrics, type Metrics } from '../observability/metrics';
import { createTracing } from '../observability/tracing';
import type { Logger } from '../observability/types';
import { createPipeline } from '../pipeline/runner';
import { buildStages } from '../pipeline/stages';
import { createPolicyEngine, timedPolicyEngine } from '../policy/engine';
import type { PolicyEngine } from '../policy/types';
import {
  loadCertificateAuthority,
  type CertificateAuthority,
} from '../proxy/certificate-authority';
import type { ExchangeDeps } from '../proxy/exchange';
import { createForwardProxy } from '../proxy/forward-proxy';
import { createLeafCertificateCache } from '../proxy/leaf-certificates';
import { createUpstreamClient } from '../proxy/upstream';
import {
  agentOf,
  countsAsDenial,
  createDenialHistory,
  type DenialHistory,
} from '../semantic/denials';
import { createRiskScorer } from '../semantic/scorer';
import { shareDenials, type SharedDenials } from '../semantic/shared-denials';
import type { RiskScorer } from '../semantic/types';
import { createApprovalService, type ApprovalService } from '../approvals/approval-service';
import { createApprovalWebhook } from '../approvals/webhook';
import { createSsrfGuard } from '../proxy/ssrf-guard';
import type { Defer } from './shutdown';
import { openStores, type Stores, type StoresOptions } from './stores';

export interface DataPlane extends Stores {
  readonly ca: CertificateAuthority;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly rateLimitOverrides: RateLimitOverridesService;
  readonly breakers: CircuitBreakers;
  readonly policyEngine: PolicyEngine;
  readonly denials: DenialHistory;
  /** Absent when Semantic.Enabled is false. */
  readonly riskScorer: RiskScorer | undefined;
  readonly approvals: ApprovalService;
  /** The pipeline with its logger and audit log, as both adapters (proxy and /proxy/) take it. */
  readonly exchange: ExchangeDeps & { audit: AuditLog };
  /** Builds the forward proxy server, to be listened on at System.Proxy.Port. */
  readonly proxy: () => Server;
}

export async function buildDataPlane(
  config: Readonly<VectraConfig>,
  options: StoresOptions,
): Promise<DataPlane> {
  const { logger, defer } = options;
  const stores = await openStores(config, options);
  const { database, cache, vaults } = stores;

  const proxyConfig = config.System.Proxy;
  const ca = await loadCertificateAuthority({
    proxy: proxyConfig,
    settings: stores.settings,
    cipher: stores.keyring.cipher,
    logger: logger.child({ component: 'ca' }),
  });
  // Pending approvals are read on each scrape from the service built below (no query).
  const pendingApprovals = { count: (): number => 0 };
  const metrics = createMetrics(config.Observability.Metrics, {
    approvalsPending: () => pendingApprovals.count(),
  });
  // Closed after the listeners (shutdown runs in reverse): the last requests' spans go out too.
  const tracing = createTracing(config.Observability.Tracing, { logger });
  if (tracing) defer(() => tracing.close());
  const leafCertificates = createLeafCertificateCache({
    ca,
    size: proxyConfig.LeafCacheSize,
    validityHours: proxyConfig.LeafValidityHours,
    onLookup: metrics.proxy?.leafCertificate,
  });
  defer(async () => leafCertificates.close());
  const upstream = createUpstreamClient(proxyConfig, { logger });
  defer(() => upstream.close());
  const audit = createAuditLog({
    db: database,
    cache,
    config: config.System.Audit,
    logger: logger.child({ component: 'audit' }),
    metrics,
  });
  audit.start();
  defer(() => audit.close());
  const { rateLimiter, rateLimitOverrides, breakers } = await buildGuards(config, {
    stores,
    metrics,
    logger,
    defer,
  });
  const policyEngine = await createPolicyEngine(config.Policy, {
    logger: logger.child({ component: 'policy' }),
  });
  defer(() => policyEngine.close());
  const { denials, sharedDenials, riskScorer } = await buildRiskScoring(config, {
    cache,
    logger,
    defer,
  });
  const approvals = await buildApprovals(config, { stores, audit, logger, defer });
  pendingApprovals.count = () => approvals.pendingCount();
  const hitl = config.HumanInTheLoop;
  const pipeline = createPipeline(
    buildStages(
      {
        authenticator: stores.agents,
        vaults,
        secrets: stores.secrets,
        // The breakers see every upstream outcome through this wrapper.
        upstream: createBreakingUpstream(upstream, breakers),
        rateLimiter,
        breakers,
        policy: {
          engine: metrics.proxy
            ? timedPolicyEngine(policyEngine, metrics.proxy.policyEvaluation)
            : policyEngine,
          bodyLimit: config.Policy.MaxBodyBytes,
        },
        riskScorer,
        approvals,
      },
      {
        approval: {
          enabled: hitl.Enabled,
          threshold: hitl.Threshold,
          holdSeconds: hitl.HoldSeconds,
          pendingStatus: hitl.PendingStatus,
          bodyPreviewBytes: hitl.BodyPreviewBytes,
          maxHeld: hitl.MaxHeldRequests,
          maxHeldPerAgent: hitl.MaxPendingPerAgent,
          holdBodyLimit: config.Policy.MaxBodyBytes,
          maxBodyBytes: proxyConfig.MaxRequestBodyBytes,
        },
      },
    ),
    {
      logger: logger.child({ component: 'pipeline' }),
      // Refusals feed the risk score's "recent denials" factor.
      onDecision(ctx, decision) {
        const agent = agentOf(ctx);
        if (decision.kind === 'deny' && agent && countsAsDenial(decision.error))
          sharedDenials.recordDenial(agent);
      },
    },
  );
  const exchange = { pipeline, logger, audit, metrics: metrics.proxy, tracing };
  const proxy = () =>
    createForwardProxy({
      ...exchange,
      config: proxyConfig,
      agents: stores.agents,
      leafCertificates,
    });
  if (!config.Policy.Enabled)
    logger.warn('policy engine disabled (Policy.Enabled=false): every request is allowed');
  const guards = { rateLimitOverrides, breakers, policyEngine, denials, riskScorer, approvals };
  return { ...stores, ...guards, ca, audit, metrics, exchange, proxy };
}

/** Rate limits (configured, with API overrides on top kept in step across replicas) and circuit breakers. */
async function buildGuards(
  config: Readonly<VectraConfig>,
  deps: { stores: Stores; metrics: Metrics; logger: Logger; defer: Defer },
): Promise<{
  rateLimiter: RateLimiter;
  rateLimitOverrides: RateLimitOverridesService;
  breakers: CircuitBreakers;
}> {
  const { stores, metrics, logger, defer } = deps;
  const configuredRateLimits = configuredOverrides(config.System.RateLimit);
  const rateLimiter = createRateLimiter({
    config: config.System.RateLimit,
    overrides: configuredRateLimits,
    store: stores.cache.counterStore('rate-limit'),
    metrics: metrics.registry,
    logger: logger.child({ component: 'rate-limit' }),
  });
  const rateLimitOverrides = createRateLimitOverrides({
    db: stores.database,
    cache: stores.cache,
    limiter: rateLimiter,
    configured: configuredRateLimits,
    logger,
  });
  defer(() => rateLimitOverrides.close());
  await rateLimitOverrides.start();
  const breakers = createCircuitBreakers(config.System.CircuitBreaker, {
    logger,
    registry: metrics.registry,
  });
  defer(async () => breakers.close());
  return { rateLimiter, rateLimitOverrides, breakers };
}

/** The history of recent refusals, shared between replicas, and the risk scorer that reads it. */
async function buildRiskScoring(
  config: Readonly<VectraConfig>,
  deps: { cache: Cache; logger: Logger; defer: Defer },
): Promise<{ denials: DenialHistory; sharedDenials: SharedDenials; riskScorer?: RiskScorer }> {
  const { cache, logger, defer } = deps;
  const denials = createDenialHistory();
  // Refusals answered by any replica count on every replica (the cache's pub/sub).
  const sharedDenials = shareDenials(denials, {
    cache,
    logger: logger.child({ component: 'semantic' }),
  });
  await sharedDenials.start();
  defer(() => sharedDenials.close());
  const riskScorer = config.Semantic.Enabled
    ? createRiskScorer(config.Semantic, {
        logger: logger.child({ component: 'semantic' }),
        denials,
      })
    : undefined;
  return { denials, sharedDenials, riskScorer };
}

/**
 * The approval workflow: its store on the database, decisions shared through the cache, every
 * event audited and (with HumanInTheLoop.NotificationWebhookUrl) sent to the webhook.
 */
async function buildApprovals(
  config: Readonly<VectraConfig>,
  deps: { stores: Stores; audit: AuditLog; logger: Logger; defer: Defer },
): Promise<ApprovalService> {
  const { stores, audit, defer } = deps;
  const hitl = config.HumanInTheLoop;
  const logger = deps.logger.child({ component: 'approvals' });
  const webhook = hitl.NotificationWebhookUrl
    ? createApprovalWebhook({
        url: hitl.NotificationWebhookUrl,
        secret: hitl.WebhookSecret,
        format: hitl.WebhookFormat,
        linkBase: hitl.PublicUrl || undefined,
        guard: createSsrfGuard({ allowlist: config.System.Proxy.NetworkAllowlist }),
        caFile: config.System.Proxy.UpstreamCaFile || undefined,
        logger,
      })
    : undefined;
  if (webhook) defer(() => webhook.close());
  const approvals = createApprovalService(hitl, {
    db: stores.database,
    cache: stores.cache,
    logger,
    audit,
    notify: webhook && ((event) => webhook.notify(event)),
  });
  await approvals.start();
  defer(() => approvals.close());
  return approvals;
}
