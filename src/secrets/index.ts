/**
 * The secret provider for `SecretManagement.DefaultProvider`: `Internal` (Vectra's encrypted
 * store, the default), `Environment` (environment variables under a prefix) or `AzureKeyVault`.
 * Built once at start-up; configuration problems throw VEC_CONFIG_INVALID here, not on the
 * first request.
 */
import type { SecretManagementConfig } from '../config/schema';
import type { Logger } from '../observability/types';
import type { VaultService } from '../vault/service-types';
import {
  createAzureKeyVaultSecretProvider,
  type AzureKeyVaultDeps,
} from './azure-key-vault-provider';
import { createEnvironmentSecretProvider } from './environment-provider';
import { createInternalSecretProvider } from './internal-provider';
import type { SecretProvider } from './types';

export interface SecretProviderDeps {
  vaultService: Pick<VaultService, 'resolveCredentials'>;
  /** Read once, here; defaults to `process.env` (the Environment provider only). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Test injection for the AzureKeyVault provider (credential, transport, clock). */
  azure?: AzureKeyVaultDeps;
}

export function createSecretProvider(
  config: SecretManagementConfig,
  deps: SecretProviderDeps,
): SecretProvider {
  switch (config.DefaultProvider) {
    case 'Internal':
      return createInternalSecretProvider(deps.vaultService);
    case 'Environment':
      return createEnvironmentSecretProvider(
        config.Providers.Environment.Prefix,
        deps.env ?? process.env,
      );
    case 'AzureKeyVault':
      return createAzureKeyVaultSecretProvider(config.Providers.AzureKeyVault, {
        azure: deps.azure,
        logger: deps.logger,
      });
  }
}

export type { SecretProvider, SecretProviderHealth, SecretProviderName } from './types';
export type { AzureKeyVaultDeps } from './azure-key-vault-provider';
export { keyVaultSecretName, createAzureCredential } from './azure-key-vault-provider';
export { environmentVariableNames } from './environment-provider';
