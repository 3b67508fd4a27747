/** The vault model: the service, its contract, its caches and its types. */
export { createVaultService, DEFAULT_VAULT, type VaultServiceDeps } from './vault-service';
export type { VaultService } from './service-types';
export type * from './types';
export { AUTH_SCHEME_TYPES } from './types';
export { createVaultCaches, INVALIDATION_CHANNEL, type VaultCaches } from './vault-caches';
