/**
 * `Internal`: credential values from Vectra's own encrypted store (the default). The vault
 * service already decrypts, checks the keys exist and names a missing one, so this is a
 * delegation that gives the store the same shape as the external providers.
 */
import type { VaultService } from '../vault/service-types';
import type { SecretProvider } from './types';

export function createInternalSecretProvider(
  vaultService: Pick<VaultService, 'resolveCredentials'>,
): SecretProvider {
  return {
    name: 'Internal',
    resolve: (vault, keys) => vaultService.resolveCredentials(vault, keys),
    health: async () => ({ status: 'Healthy', description: 'Encrypted credential store.' }),
  };
}
