/**
 * The vault operations behind the admin API, `/discover` and the proxy. One implementation
 * (./vault-service.ts) over the repositories; every method validates its input and throws
 * GatewayErrors with the codes listed in docs/errors.md (400 invalid input naming the field,
 * 404 unknown vault/service/credential, 409 duplicate name).
 */
import type {
  CredentialInfo,
  Service,
  ServiceInput,
  ServiceScheme,
  UnmatchedHostPolicy,
  Vault,
} from './types';

export interface VaultService {
  // Vaults
  listVaults(): Promise<Vault[]>;
  /**
   * The vault. `cached`: from the in-process cache (the hot path's unmatched-hosts read), which
   * an update or deletion on any replica invalidates; otherwise read from the database.
   */
  getVault(name: string, options?: { cached?: boolean }): Promise<Vault>;
  createVault(input: { name: string; unmatchedHosts?: UnmatchedHostPolicy }): Promise<Vault>;
  updateVault(name: string, patch: { unmatchedHosts?: UnmatchedHostPolicy }): Promise<Vault>;
  /** Deletes the vault with its credentials, services, grants and sessions. `default` cannot be deleted. */
  deleteVault(name: string): Promise<void>;

  // Credentials (values are write-only)
  setCredential(vault: string, key: string, value: string): Promise<CredentialInfo>;
  listCredentials(vault: string): Promise<CredentialInfo[]>;
  deleteCredential(vault: string, key: string): Promise<void>;
  /** Decrypted values of `keys` for injection; the only way a value leaves the store. */
  resolveCredentials(vault: string, keys: readonly string[]): Promise<Map<string, string>>;

  // Services
  listServices(vault: string): Promise<Service[]>;
  getService(vault: string, name: string): Promise<Service>;
  /** Validates host pattern, scheme and auth; every credential key the auth names must exist. */
  createService(vault: string, input: ServiceInput): Promise<Service>;
  updateService(vault: string, name: string, patch: Partial<ServiceInput>): Promise<Service>;
  deleteService(vault: string, name: string): Promise<void>;
  /**
   * The service of `vault` for a request: only services of the request's scheme and port
   * (src/vault/host-pattern.ts), then by the matching order (exact > wildcard, port, path,
   * order). Undefined when none matches: the caller must then inject nothing.
   */
  matchService(
    vault: string,
    request: { scheme: ServiceScheme; host: string; port: number; path: string },
  ): Promise<Service | undefined>;
}
