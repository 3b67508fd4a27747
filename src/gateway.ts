/**
 * Composition root of `vectra serve`: builds every component from the frozen configuration,
 * starts the listeners, and tears everything down in reverse order on close.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { openCache } from './cache';
import {
  circuitHealthCheck,
  createBreakingUpstream,
  createCircuitBreakers,
} from './guards/circuit-breaker';
import { createRateLimiter } from './guards/rate-limit';
import { configuredOverrides } from './guards/rate-limit-override-list';
import { createRateLimitOverrides } from './guards/rate-limit-overrides';
import { createPolicyEngine } from './policy/engine';
import { agentOf, countsAsDenial, createDenialHistory } from './semantic/denials';
import { createInternalScorer } from './semantic/internal-scorer';
import { createRiskScorer } from './semantic/scorer';
import { shareDenials } from './semantic/shared-denials';
import type { Cache } from './cache/types';
import type { VectraConfig } from './config/schema';
import { createLogger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import type { Logger } from './observability/types';
import { policyHealthCheck } from './policy/directory-health';
import { createApiApp } from './server/app';
import { HealthService } from './server/health';
import { listen, type Listener } from './server/listener';
import { loadServerCertificate } from './server/tls';
import { createAgentAuthenticator } from './identity/agent-auth';
import { createAuthThrottle } from './identity/auth-throttle';
import { ensureBootstrapAdmin } from './identity/bootstrap';
import { createSecretProvider } from './secrets';
import type { SecretProvider } from './secrets/types';
import { createAuditLog, type AuditLog } from './observability/audit';
import { createPipeline } from './pipeline/runner';
import { buildStages } from './pipeline/stages';
import { loadCertificateAuthority } from './proxy/certificate-authority';
import { refuseRaw } from './proxy/exchange';
import { createForwardProxy } from './proxy/forward-proxy';
import { httpTimeoutOptions } from './proxy/http-timeouts';
import { createLeafCertificateCache } from './proxy/leaf-certificates';
import { createUpstreamClient } from './proxy/upstream';
import { auditRoutes, createAuditStream } from './server/admin/audit-routes';
import { policyRoutes } from './server/admin/policy-routes';
import { rateLimitRoutes } from './server/admin/rate-limit-routes';
import { createAdminRouter } from './server/admin/router';
import { reverseRoute } from './server/reverse-route';
import { openDatabase } from './storage';
import { createSettingsRepository } from './storage/settings-repository';
import type { Database } from './storage/types';
import { keyFileWarning, openKeyring, resolveMasterPassword } from './vault/keyring';
import type { VaultService } from './vault/service-types';
import { createVaultService } from './vault/vault-service';

export interface GatewayOptions {
  /** Use this logger instead of building one from the configuration (tests). */
  logger?: Logger;
  version?: string;
  /** Where the first admin token is shown once (default: stderr, never the logger). */
  announce?: (text: string) => void;
  /** Environment the Environment secret provider reads (default: process.env, read once at start). */
  env?: NodeJS.ProcessEnv;
}

export interface Gateway {
  readonly config: Readonly<VectraConfig>;
  readonly logger: Logger;
  readonly database: Database;
  readonly cache: Cache;
  readonly vaults: VaultService;
  readonly secrets: SecretProvider;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly health: HealthService;
  readonly app: Express;
  /** `http://host:port` of the HTTP listener (and of HTTPS when enabled), and of the forward proxy. */
  readonly urls: { http: string; https?: string; proxy: string };
  /** Graceful stop: listeners drain (bounded), then cache and database close. Idempotent. */
  close(reason?: string): Promise<void>;
}

export async function startGateway(
  config: Readonly<VectraConfig>,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const ownLogger = options.logger ? undefined : createLogger(config.Observability.Logging);
  const logger = options.logger ?? ownLogger!.logger;
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse())
      await fn().catch((err) => logger.error('shutdown step failed', { err }));
  };
  if (ownLogger) cleanups.push(() => ownLogger.close());
  cleanups.push(async () => logger.info('shutdown complete'));

  try {
    const dataDirectory = resolve(config.System.Storage.DataDirectory);
    mkdirSync(dataDirectory, { recursive: true, mode: 0o700 });

    const database = await openDatabase(config.System.Storage.Database, {
      logger: logger.child({ component: 'storage' }),
    });
    cleanups.push(() => database.close());
    const cache = await openCache(config.System.Storage.Cache, {
      logger: logger.child({ component: 'cache' }),
    });
    cleanups.push(() => cache.close());

    const settings = createSettingsRepository(database);
    const keyring = await openKeyring({
      settings,
      dataDirectory,
      masterPassword: await resolveMasterPassword(config.Security),
      logger: logger.child({ component: 'keyring' }),
    });
    const vaults = createVaultService({
      db: database,
      cipher: keyring.cipher,
      cache,
      logger: logger.child({ component: 'vault' }),
    });
    cleanups.push(() => vaults.close());
    await ensureBootstrapAdmin({
      vaults,
      dataDirectory,
      bootstrapToken: config.Security.Admin.BootstrapToken || undefined,
      announce: options.announce ?? ((text) => process.stderr.write(`${text}\n`)),
      logger,
    });
    const secrets = createSecretProvider(config.SecretManagement, {
      vaultService: vaults,
      env: options.env ?? process.env,
      logger: logger.child({ component: 'secrets' }),
    });
    const agents = createAgentAuthenticator(config.Security.AgentAuth, vaults);
    const throttle = createAuthThrottle({ cache, logger: logger.child({ component: 'auth' }) });

    // Data plane: CA and leaf certificates, upstream client, pipeline, audit log.
    const proxyConfig = config.System.Proxy;
    const ca = await loadCertificateAuthority({
      proxy: proxyConfig,
      settings,
      cipher: keyring.cipher,
      logger: logger.child({ component: 'ca' }),
    });
    const leafCertificates = createLeafCertificateCache({
      ca,
      size: proxyConfig.LeafCacheSize,
      validityHours: proxyConfig.LeafValidityHours,
    });
    cleanups.push(async () => leafCertificates.close());
    const upstream = createUpstreamClient(proxyConfig, { logger });
    cleanups.push(() => upstream.close());
    const audit = createAuditLog({
      db: database,
      cache,
      config: config.System.Audit,
      logger: logger.child({ component: 'audit' }),
    });
    audit.start();
    cleanups.push(() => audit.close());
    const auditStream = createAuditStream({
      vaults,
      audit,
      logger: logger.child({ component: 'audit' }),
    });
    const metrics = createMetrics();
    const configuredRateLimits = configuredOverrides(config.System.RateLimit);
    const rateLimiter = createRateLimiter({
      config: config.System.RateLimit,
      overrides: configuredRateLimits,
      store: cache.counterStore('rate-limit'),
      metrics: metrics.registry,
      logger: logger.child({ component: 'rate-limit' }),
    });
    // API overrides from the database on top of the configured ones, kept in step across replicas.
    const rateLimitOverrides = createRateLimitOverrides({
      db: database,
      cache,
      limiter: rateLimiter,
      configured: configuredRateLimits,
      logger,
    });
    cleanups.push(() => rateLimitOverrides.close());
    await rateLimitOverrides.start();
    const breakers = createCircuitBreakers(config.System.CircuitBreaker, {
      logger,
      registry: metrics.registry,
    });
    cleanups.push(async () => breakers.close());
    const policyEngine = await createPolicyEngine(config.Policy, {
      logger: logger.child({ component: 'policy' }),
    });
    cleanups.push(() => policyEngine.close());
    const denials = createDenialHistory();
    // Refusals answered by any replica count on every replica (the cache's pub/sub).
    const sharedDenials = shareDenials(denials, {
      cache,
      logger: logger.child({ component: 'semantic' }),
    });
    await sharedDenials.start();
    cleanups.push(() => sharedDenials.close());
    const riskScorer = config.Semantic.Enabled
      ? createRiskScorer(config.Semantic, {
          logger: logger.child({ component: 'semantic' }),
          denials,
        })
      : undefined;
    const runPipeline = createPipeline(
      buildStages(
        {
          authenticator: agents,
          vaults,
          secrets,
          // The breakers see every upstream outcome through this wrapper.
          upstream: createBreakingUpstream(upstream, breakers),
          rateLimiter,
          breakers,
          policy: { engine: policyEngine, bodyLimit: config.Policy.MaxBodyBytes },
          riskScorer,
        },
        {
          approval: {
            enabled: config.HumanInTheLoop.Enabled,
            threshold: config.HumanInTheLoop.Threshold,
          },
        },
      ),
      {
        logger: logger.child({ component: 'pipeline' }),
      },
    );
    // Refusals feed the risk score's "recent denials" factor.
    const pipeline: typeof runPipeline = async (ctx) => {
      const decision = await runPipeline(ctx);
      const agent = agentOf(ctx);
      if (decision.kind === 'deny' && agent && countsAsDenial(decision.error))
        sharedDenials.recordDenial(agent);
      return decision;
    };
    const exchange = { pipeline, logger, audit };

    const health = new HealthService();
    health.register({
      name: 'database',
      async run() {
        await database.ping();
        return { status: 'Healthy', description: database.provider };
      },
    });
    health.register({ name: 'cache', failureStatus: 'Degraded', run: () => cache.health() });
    health.register(policyHealthCheck(config.Policy, policyEngine));
    health.register(circuitHealthCheck(breakers));
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
    if (!config.Policy.Enabled)
      logger.warn('policy engine disabled (Policy.Enabled=false): every request is allowed');

    // The forward proxy's bound port, advertised by /discover: set once the proxy listens, which
    // is before the API does (below), so every /discover answer carries it.
    const proxyBound: { port?: number } = {};
    const app = createApiApp({
      logger,
      metrics,
      health,
      maxBodyBytes: config.System.Server.MaxRequestBodyBytes,
      rawRouters: [{ path: '/proxy', router: reverseRoute(exchange) }],
      routers: [
        {
          path: '/',
          router: createAdminRouter({
            vaults,
            agents,
            throttle,
            version: options.version ?? 'dev',
            caPem: ca.caPem(),
            proxyPort: () => proxyBound.port,
            extraRoutes: [
              ...auditRoutes(vaults, audit),
              ...policyRoutes(policyEngine, {
                vaults,
                maxBodyBytes: config.Policy.MaxBodyBytes,
                // Scoring off: the dry run still shows the Internal score, marked unused.
                scorer: riskScorer ?? createInternalScorer({ denials }),
                scored: riskScorer !== undefined,
                approval: {
                  enabled: config.HumanInTheLoop.Enabled,
                  threshold: config.HumanInTheLoop.Threshold,
                },
              }),
              ...rateLimitRoutes(rateLimitOverrides, config.System.RateLimit),
            ],
            streams: [auditStream],
          }),
        },
      ],
    });
    const server = config.System.Server;
    // Slow clients on the API port (the proxy port sets its own from System.Proxy). No Host
    // required (Node's own 400 for it has no code): `/proxy/<url>` names its host, and the
    // admin routes do not read it. Parser-level refusals carry a code, as on the proxy port.
    const apiOptions = { ...httpTimeoutOptions(server, 'System.Server'), requireHostHeader: false };
    const coded = <T extends HttpServer>(api: T): T =>
      api.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseRaw(socket, err));
    const listeners: Listener[] = [];
    cleanups.push(async () => {
      const timeoutMs = server.ShutdownTimeoutSeconds * 1000;
      const results = await Promise.all(listeners.map((l) => l.close(timeoutMs)));
      const dropped = results.reduce((n, r) => n + r.dropped, 0);
      if (dropped > 0)
        logger.warn(
          `shutdown: ${dropped} request(s) did not finish within ${server.ShutdownTimeoutSeconds}s and were dropped`,
        );
    });
    // Runs before the listeners drain: a `logs --follow` stream would otherwise hold them open.
    cleanups.push(async () => auditStream.close());
    const proxyListener = await listen(
      'proxy',
      createForwardProxy({ ...exchange, config: proxyConfig, agents, leafCertificates }),
      proxyConfig.Port,
      server.Host,
    );
    listeners.push(proxyListener);
    proxyBound.port = proxyListener.address().port;
    const http = await listen(
      'HTTP',
      coded(createHttpServer(apiOptions, app)),
      server.Http.Port,
      server.Host,
    );
    listeners.push(http);
    const urls: { http: string; https?: string; proxy: string } = {
      http: urlOf('http', http),
      proxy: urlOf('http', proxyListener),
    };
    if (server.Https.Enabled) {
      const tls = loadServerCertificate(server.Https.Certificate);
      const https = await listen(
        'HTTPS',
        coded(createHttpsServer({ ...tls, ...apiOptions }, app)),
        server.Https.Port,
        server.Host,
      );
      listeners.push(https);
      urls.https = urlOf('https', https);
    }
    logger.info(`Vectra ${options.version ?? ''} listening`.replace('  ', ' '), {
      http: urls.http,
      https: urls.https,
      database: database.provider,
      cache: cache.provider,
    });

    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      database,
      cache,
      vaults,
      secrets,
      audit,
      metrics,
      health,
      app,
      urls,
      close(reason = 'close requested') {
        closing ??= (async () => {
          logger.info(`shutting down: ${reason}`, {
            inFlight: listeners.reduce((n, l) => n + l.inFlight(), 0),
          });
          await cleanup();
        })();
        return closing;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function urlOf(scheme: string, listener: Listener): string {
  const { address, port, family } = listener.address();
  const host =
    address === '0.0.0.0' || address === '::'
      ? '127.0.0.1'
      : family === 'IPv6'
        ? `[${address}]`
        : address;
  return `${scheme}://${host}:${port}`;
}
