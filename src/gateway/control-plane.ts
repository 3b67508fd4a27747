/**
 * The control plane: the API app on the HTTP(S) port, with the admin routes (vaults, agents,
 * audit, policy, rate limits), /health with its checks, /metrics, and the `/proxy/<url>` route.
 */
import type { Express } from 'express';
import type { VectraConfig } from '../config/schema';
import { circuitHealthCheck } from '../guards/circuit-health';
import { policyHealthCheck } from '../policy/directory-health';
import { createInternalScorer } from '../semantic/internal-scorer';
import { standingMatch } from '../approvals/standing';
import { approvalRoutes, createApprovalStream } from '../server/admin/approval-routes';
import { auditRoutes, createAuditStream } from '../server/admin/audit-routes';
import { policyRoutes } from '../server/admin/policy-routes';
import { rateLimitRoutes } from '../server/admin/rate-limit-routes';
import { createAdminRouter } from '../server/admin/router';
import { createApiApp } from '../server/app';
import { createCookieSessions } from '../server/ui/session-auth';
import { createUiSessionStore } from '../server/ui/session-store';
import { createUiRouter } from '../server/ui/ui-router';
import { HealthService } from '../observability/health';
import { reverseRoute } from '../server/reverse-route';
import type { Logger } from '../observability/types';
import { keyFileWarning } from '../vault/keyring';
import type { DataPlane } from './data-plane';

export interface ControlPlane {
  readonly app: Express;
  readonly health: HealthService;
  /**
   * Ends the open event streams and answers the held requests, which would otherwise hold the
   * listeners open.
   */
  closeStreams(): Promise<void>;
}

export interface ControlPlaneOptions {
  logger: Logger;
  version: string;
  /** The forward proxy's bound port, advertised by /discover; known once the proxy listens. */
  proxyPort: () => number | undefined;
  /** Clock in epoch milliseconds for the web UI's sessions (tests inject one). */
  now?: () => number;
}

export function buildControlPlane(
  config: Readonly<VectraConfig>,
  data: DataPlane,
  { logger, version, proxyPort, now }: ControlPlaneOptions,
): ControlPlane {
  const { vaults, audit, policyEngine, riskScorer } = data;
  const auditStream = createAuditStream({
    vaults,
    audit,
    logger: logger.child({ component: 'audit' }),
  });
  const approvalStream = createApprovalStream(data.approvals, {
    logger: logger.child({ component: 'approvals' }),
  });
  const health = healthChecks(config, data);
  const ui = uiSessions(config, data, now);
  const app = createApiApp({
    logger,
    metrics: data.metrics,
    health,
    maxBodyBytes: config.System.Server.MaxRequestBodyBytes,
    rawRouters: [{ path: '/proxy', router: reverseRoute(data.exchange) }],
    routers: [
      ...(ui
        ? [
            {
              path: '/ui',
              router: createUiRouter({
                ...ui.deps,
                identity: data.identity,
                throttle: data.throttle,
              }),
            },
          ]
        : []),
      {
        path: '/',
        router: createAdminRouter({
          vaults,
          identity: data.identity,
          agents: data.agents,
          throttle: data.throttle,
          cookieSessions: ui && createCookieSessions(ui.deps),
          version,
          caPem: data.ca.caPem(),
          proxyPort,
          extraRoutes: [
            ...auditRoutes(vaults, audit),
            ...policyRoutes(policyEngine, {
              vaults,
              maxBodyBytes: config.Policy.MaxBodyBytes,
              // Scoring off: the dry run still shows the Internal score, marked unused.
              scorer: riskScorer ?? createInternalScorer({ denials: data.denials }),
              scored: riskScorer !== undefined,
              approval: {
                enabled: config.HumanInTheLoop.Enabled,
                threshold: config.HumanInTheLoop.Threshold,
              },
              standing: async (request) =>
                standingMatch(await data.approvals.standingFor(request), request.target)?.id,
            }),
            ...rateLimitRoutes(data.rateLimitOverrides, config.System.RateLimit),
            ...approvalRoutes(data.approvals),
          ],
          streams: [auditStream, approvalStream],
        }),
      },
    ],
  });
  return {
    app,
    health,
    async closeStreams() {
      auditStream.close();
      approvalStream.close();
      // Held requests are answered pending now rather than dropped when the listeners close.
      data.approvals.releaseHeld();
    },
  };
}

/** The web UI's sessions in the cache provider, so that every replica knows them. */
function uiSessions(config: Readonly<VectraConfig>, data: DataPlane, now?: () => number) {
  const { Ui } = config.System;
  if (!Ui.Enabled) return undefined;
  const store = createUiSessionStore({
    cache: data.cache,
    lifetimeMs: Ui.SessionHours * 3_600_000,
    idleMs: Ui.IdleMinutes * 60_000,
    now,
  });
  const adminTokenExists = async (tokenId: string) =>
    (await data.identity.listAdminTokens()).some((token) => token.id === tokenId);
  return { deps: { store, adminTokenExists } };
}

/** /health: the database, the cache (Degraded when down), the policies, the circuits, the secrets. */
function healthChecks(config: Readonly<VectraConfig>, data: DataPlane): HealthService {
  const { database, cache, secrets, keyring } = data;
  const health = new HealthService();
  health.register({
    name: 'database',
    async run() {
      await database.ping();
      return { status: 'Healthy', description: database.provider };
    },
  });
  health.register({ name: 'cache', failureStatus: 'Degraded', run: () => cache.health() });
  health.register(policyHealthCheck(config.Policy, data.policyEngine));
  health.register(circuitHealthCheck(data.breakers));
  health.register({
    name: 'secrets',
    async run() {
      const provider = secrets.health
        ? await secrets.health()
        : { status: 'Healthy' as const, description: secrets.name };
      // The key-file warning keeps the status: a fresh install is healthy, but should be told.
      // /health is public: the warning without the file's path (the log line has it).
      return keyring.warning
        ? { ...provider, description: `${provider.description}; WARNING: ${keyFileWarning()}` }
        : provider;
    },
  });
  return health;
}
