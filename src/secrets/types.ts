/**
 * Where credential values come from (`SecretManagement.DefaultProvider`). The injection stage
 * asks the provider for the keys a matched service names, right before it injects them; no
 * other code path reads a value. Every provider fails closed: a key it cannot find is
 * VEC_CREDENTIAL_NOT_FOUND, a backend it cannot reach is VEC_SECRET_PROVIDER_UNAVAILABLE, and
 * neither message ever carries a value.
 */

export type SecretProviderName = 'Internal' | 'Environment' | 'AzureKeyVault';

export interface SecretProviderHealth {
  status: 'Healthy' | 'Degraded' | 'Unhealthy';
  description: string;
}

export interface SecretProvider {
  readonly name: SecretProviderName;
  /**
   * The values of `keys` in `vault`, every key present in the map; rejects when any key is
   * missing (VEC_CREDENTIAL_NOT_FOUND) or the backend fails (VEC_SECRET_PROVIDER_UNAVAILABLE).
   */
  resolve(vault: string, keys: readonly string[]): Promise<Map<string, string>>;
  /** Live state for /health, without a round trip per call. */
  health?(): Promise<SecretProviderHealth>;
}
