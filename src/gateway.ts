/**
 * Composition root of `vectra serve`: builds the data plane (what a proxied request passes
 * through), the control plane (the API app) and the listeners from the frozen configuration,
 * and tears everything down in reverse order on close.
 */
import type { Express } from 'express';
import type { Cache } from './cache/types';
import type { VectraConfig } from './config/schema';
import { buildControlPlane } from './gateway/control-plane';
import { buildDataPlane } from './gateway/data-plane';
import { listen, type GatewayUrls } from './gateway/listen';
import { createShutdown } from './gateway/shutdown';
import type { AuditLog } from './audit/audit-log';
import { createLogger } from './observability/logger';
import type { Metrics } from './observability/metrics';
import type { Logger } from './observability/types';
import type { SecretProvider } from './secrets/types';
import type { HealthService } from './observability/health';
import type { Database } from './storage/types';
import type { IdentityService } from './identity/service-types';
import type { VaultService } from './vault/service-types';

export interface GatewayOptions {
  /** Use this logger instead of building one from the configuration (tests). */
  logger?: Logger;
  version?: string;
  /** Where the first admin token is shown once (default: stderr, never the logger). */
  announce?: (text: string) => void;
  /** Environment the Environment secret provider reads (default: process.env, read once at start). */
  env?: NodeJS.ProcessEnv;
  /** Clock in epoch milliseconds for the web UI's sessions (tests inject one). */
  now?: () => number;
}

export interface Gateway {
  readonly config: Readonly<VectraConfig>;
  readonly logger: Logger;
  readonly database: Database;
  readonly cache: Cache;
  readonly vaults: VaultService;
  readonly identity: IdentityService;
  readonly secrets: SecretProvider;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly health: HealthService;
  readonly app: Express;
  /** `http://host:port` of the HTTP listener (and of HTTPS when enabled), and of the forward proxy. */
  readonly urls: GatewayUrls;
  /** Graceful stop: listeners drain (bounded), then cache and database close. Idempotent. */
  close(reason?: string): Promise<void>;
}

export async function startGateway(
  config: Readonly<VectraConfig>,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const ownLogger = options.logger ? undefined : createLogger(config.Observability.Logging);
  const logger = options.logger ?? ownLogger!.logger;
  const shutdown = createShutdown(logger);
  const { defer } = shutdown;
  if (ownLogger) defer(() => ownLogger.close());
  defer(async () => logger.info('shutdown complete'));

  try {
    const data = await buildDataPlane(config, {
      logger,
      defer,
      announce: options.announce ?? ((text) => process.stderr.write(`${text}\n`)),
      env: options.env ?? process.env,
    });
    let proxyPort: number | undefined;
    const control = buildControlPlane(config, data, {
      logger,
      version: options.version ?? 'dev',
      proxyPort: () => proxyPort,
      now: options.now,
    });
    const listening = await listen(config, {
      proxy: data.proxy,
      app: control.app,
      logger,
      defer,
      beforeDrain: control.closeStreams,
      onProxyListening: (port) => (proxyPort = port),
    });
    const { urls } = listening;
    logger.info(`Vectra ${options.version ?? ''} listening`.replace('  ', ' '), {
      http: urls.http,
      https: urls.https,
      proxy: urls.proxy,
      database: data.database.provider,
      cache: data.cache.provider,
    });

    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      database: data.database,
      cache: data.cache,
      vaults: data.vaults,
      identity: data.identity,
      secrets: data.secrets,
      audit: data.audit,
      metrics: data.metrics,
      health: control.health,
      app: control.app,
      urls,
      close(reason = 'close requested') {
        closing ??= (async () => {
          logger.info(`shutting down: ${reason}`, { inFlight: listening.inFlight() });
          await shutdown.run();
        })();
        return closing;
      },
    };
  } catch (err) {
    await shutdown.run();
    throw err;
  }
}
