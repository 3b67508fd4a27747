/**
 * The vault and identity services over one database and cache, sharing their caches the way
 * `vectra serve` builds them (src/gateway/stores.ts), as one object for tests that use both:
 * an identity change evicts the vault caches' tracked token lookups and the other way round.
 */
import type { Cache } from '../../src/cache/types';
import { createIdentityService } from '../../src/identity/identity-service';
import type { IdentityService } from '../../src/identity/service-types';
import type { Logger } from '../../src/observability/types';
import type { Database } from '../../src/storage/types';
import type { Cipher } from '../../src/vault/crypto';
import type { VaultService } from '../../src/vault/service-types';
import { createVaultCaches } from '../../src/vault/vault-caches';
import { createVaultService } from '../../src/vault/vault-service';

export type VaultServices = VaultService & IdentityService & { close(): Promise<void> };

export function createVaultServices(deps: {
  db: Database;
  cipher: Cipher;
  cache: Cache;
  logger?: Logger;
  now?: () => Date;
}): VaultServices {
  const { db, cipher, now } = deps;
  const caches = createVaultCaches({ cache: deps.cache, logger: deps.logger, now });
  const vaults = createVaultService({ db, cipher, caches, now });
  const identity = createIdentityService({ db, caches, now });
  return { ...vaults, ...identity, close: () => caches.close() };
}
