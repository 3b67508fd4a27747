/** The vault and identity model: the service, its contract and its types. */
export { createVaultService, DEFAULT_VAULT, type VaultServiceDeps } from './vault-service';
export type { VaultService } from './service-types';
export type * from './types';
export { ADMIN_ROLES, AUTH_SCHEME_TYPES, SESSION_TTL, TOKEN_PREFIX } from './types';
export { INVALIDATION_CHANNEL } from './token-cache';
