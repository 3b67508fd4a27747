/**
 * The gateway's state and who may use it: the data directory, database and cache, the keyring,
 * vaults and identities, the first admin token, the secret provider and agent authentication.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { openCache } from '../cache';
import type { Cache } from '../cache/types';
import type { VectraConfig } from '../config/schema';
import { createAgentAuthenticator, type AgentAuthenticator } from '../identity/agent-auth';
import { createAuthThrottle, type AuthThrottle } from '../identity/auth-throttle';
import { ensureBootstrapAdmin } from '../identity/bootstrap';
import { createIdentityService } from '../identity/identity-service';
import type { IdentityService } from '../identity/service-types';
import type { Logger } from '../observability/types';
import { createSecretProvider } from '../secrets';
import type { SecretProvider } from '../secrets/types';
import { openDatabase } from '../storage';
import { createSettingsRepository } from '../storage/settings-repository';
import type { Database, SettingsRepository } from '../storage/types';
import { openKeyring, resolveMasterPassword, type OpenedKeyring } from '../vault/keyring';
import type { VaultService } from '../vault/service-types';
import { createVaultCaches } from '../vault/vault-caches';
import { createVaultService } from '../vault/vault-service';
import type { Defer } from './shutdown';

export interface Stores {
  readonly database: Database;
  readonly cache: Cache;
  readonly settings: SettingsRepository;
  readonly keyring: OpenedKeyring;
  readonly vaults: VaultService;
  readonly identity: IdentityService;
  readonly secrets: SecretProvider;
  readonly agents: AgentAuthenticator;
  readonly throttle: AuthThrottle;
}

export interface StoresOptions {
  logger: Logger;
  defer: Defer;
  /** Where the first admin token is shown once. */
  announce: (text: string) => void;
  /** What the Environment secret provider reads. */
  env: NodeJS.ProcessEnv;
}

export async function openStores(
  config: Readonly<VectraConfig>,
  { logger, defer, announce, env }: StoresOptions,
): Promise<Stores> {
  const dataDirectory = resolve(config.System.Storage.DataDirectory);
  mkdirSync(dataDirectory, { recursive: true, mode: 0o700 });

  const database = await openDatabase(config.System.Storage.Database, {
    logger: logger.child({ component: 'storage' }),
  });
  defer(() => database.close());
  const cache = await openCache(config.System.Storage.Cache, {
    logger: logger.child({ component: 'cache' }),
  });
  defer(() => cache.close());

  const settings = createSettingsRepository(database);
  const keyring = await openKeyring({
    settings,
    dataDirectory,
    masterPassword: await resolveMasterPassword(config.Security),
    logger: logger.child({ component: 'keyring' }),
  });
  const caches = createVaultCaches({ cache, logger: logger.child({ component: 'vault' }) });
  defer(() => caches.close());
  const vaults = createVaultService({ db: database, cipher: keyring.cipher, caches });
  const identity = createIdentityService({ db: database, caches });
  await ensureBootstrapAdmin({
    identity,
    dataDirectory,
    bootstrapToken: config.Security.Admin.BootstrapToken || undefined,
    announce,
    logger,
  });
  const secrets = createSecretProvider(config.SecretManagement, {
    vaultService: vaults,
    env,
    logger: logger.child({ component: 'secrets' }),
  });
  const agents = createAgentAuthenticator(config.Security.AgentAuth, identity);
  const throttle = createAuthThrottle({ cache, logger: logger.child({ component: 'auth' }) });
  return { database, cache, settings, keyring, vaults, identity, secrets, agents, throttle };
}
