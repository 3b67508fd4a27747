/**
 * `AzureKeyVault`: credential values from an Azure Key Vault, read with @azure/keyvault-secrets.
 *
 * The real Azure cannot be reached from where Vectra is built and tested; this provider is
 * tested (test/integration/secrets-azure-key-vault.test.ts) against a local HTTPS server that
 * speaks Key Vault's documented REST API: `GET /secrets/{name}/{version}?api-version=…`, the
 * 401 bearer challenge the SDK answers with a token, 404 `SecretNotFound`, faults and timeouts.
 *
 * Names: Key Vault secret names allow only `[0-9a-zA-Z-]` (1 to 127 characters, compared
 * case-insensitively), so credential KEY of vault V is the secret `V--KEY` with `_` and `.`
 * turned into `-`: vault `team.a`, key `STRIPE_KEY` → `team-a--STRIPE-KEY`. Distinct names can
 * meet (`my_vault` and `my-vault`, or `A_B` and `A-B`): give such credentials distinct names.
 *
 * Values are kept in memory for a short time (60 s by default): a burst of requests is one
 * lookup, and a rotated value shows up within that time. Failures are never cached. Every
 * fault (network, TLS, 5xx, refused access, no token) is VEC_SECRET_PROVIDER_UNAVAILABLE: the
 * request is refused rather than sent without its credential. Messages name the secret, never
 * a value, and carry no text from the server beyond a status and a plain error code.
 *
 * The SDK is loaded on the first lookup, not at import: it takes about 200 ms
 * that every `vectra` command would otherwise pay, whichever provider is configured.
 */
import type { HttpClient, PipelineRetryOptions, RestError } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { SecretManagementConfig } from '../config/schema';
import { ConfigError, GatewayError, isGatewayError, type ConfigProblem } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import { ExpiringValues } from './expiring-values';
import type { SecretProvider, SecretProviderHealth } from './types';

type AzureKeyVaultConfig = SecretManagementConfig['Providers']['AzureKeyVault'];

/** What tests (and only tests) inject; nothing here is configuration. */
export interface AzureKeyVaultDeps {
  /** Replaces the credential built from the configuration (tests: a static token). */
  credential?: TokenCredential;
  /** Replaces the SDK's transport, e.g. one whose https.Agent trusts a test CA. */
  httpClient?: HttpClient;
  /** The SDK's option for vaults outside `*.vault.azure.net` (a local test server). */
  disableChallengeResourceVerification?: boolean;
  retryOptions?: PipelineRetryOptions;
  /** Deadline of one lookup, token and retries included; default 10 s. */
  lookupTimeoutMs?: number;
  /** How long a fetched value is reused; default 60 s, 0 turns caching off. */
  cacheTtlMs?: number;
  /** Clock in epoch milliseconds, for the value cache. */
  now?: () => number;
}

const DEFAULT_CACHE_TTL_MS = 60_000;
const DEFAULT_LOOKUP_TIMEOUT_MS = 10_000;
/** Few and short: a request waits on this lookup before it can go upstream. */
const DEFAULT_RETRY: PipelineRetryOptions = {
  maxRetries: 2,
  retryDelayInMs: 200,
  maxRetryDelayInMs: 2000,
};
const KEY_VAULT_SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const CONFIG_KEY = 'SecretManagement.Providers.AzureKeyVault';

/** The Key Vault secret that holds credential `key` of `vault` (see the mapping above). */
export function keyVaultSecretName(vault: string, key: string): string {
  return `${vault}--${key}`.replace(/[_.]/g, '-');
}

/** A service principal when all three of its keys are set, else DefaultAzureCredential. */
export async function createAzureCredential(config: AzureKeyVaultConfig): Promise<TokenCredential> {
  const { ClientSecretCredential, DefaultAzureCredential } = await import('@azure/identity');
  if (config.TenantId && config.ClientId && config.ClientSecret) {
    return new ClientSecretCredential(config.TenantId, config.ClientId, config.ClientSecret);
  }
  return new DefaultAzureCredential();
}

async function openSecretClient(
  config: AzureKeyVaultConfig,
  azure: AzureKeyVaultDeps,
): Promise<SecretClient> {
  const { SecretClient } = await import('@azure/keyvault-secrets');
  const credential = azure.credential ?? (await createAzureCredential(config));
  return new SecretClient(config.VaultUri, markTokenFailures(credential), {
    httpClient: azure.httpClient,
    retryOptions: azure.retryOptions ?? DEFAULT_RETRY,
    disableChallengeResourceVerification: azure.disableChallengeResourceVerification,
  });
}

export function createAzureKeyVaultSecretProvider(
  config: AzureKeyVaultConfig,
  deps: { azure?: AzureKeyVaultDeps; logger?: Logger } = {},
): SecretProvider {
  assertValidConfig(config);
  const azure = deps.azure ?? {};
  const logger = (deps.logger ?? silentLogger).child({ component: 'secrets.azure-key-vault' });
  let opening: Promise<SecretClient> | undefined;
  const secretClient = () =>
    (opening ??= openSecretClient(config, azure).catch((error: unknown) => {
      opening = undefined;
      throw error;
    }));
  const timeoutMs = azure.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const now = azure.now ?? Date.now;
  const values = new ExpiringValues(azure.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, now);
  /** Lookups under way, so concurrent requests for one secret share a round trip. */
  const pending = new Map<string, Promise<string>>();
  let lastFailure: { reason: string; at: number } | undefined;

  async function fetchSecret(vault: string, key: string, name: string): Promise<string> {
    try {
      // A deadline signal rather than the SDK's per-request `timeout`: it bounds the token and
      // the retries too, and its timer does not outlive a request that failed to connect.
      const client = await secretClient();
      const secret = await client.getSecret(name, { abortSignal: AbortSignal.timeout(timeoutMs) });
      if (secret.value === undefined) throw notFound(vault, key, name);
      values.set(name, secret.value);
      lastFailure = undefined;
      return secret.value;
    } catch (error) {
      if (isGatewayError(error)) throw error;
      if (isRestError(error) && error.statusCode === 404) throw notFound(vault, key, name);
      const reason = describeFailure(error);
      lastFailure = { reason, at: now() };
      logger.warn('Azure Key Vault lookup failed; the request is refused', {
        code: 'VEC_SECRET_PROVIDER_UNAVAILABLE',
        secretName: name,
        reason,
        ...(error instanceof TokenAcquisitionError ? { detail: error.detail } : {}),
      });
      throw new GatewayError(
        'VEC_SECRET_PROVIDER_UNAVAILABLE',
        `Azure Key Vault did not return secret "${name}" (${reason}); check the vault URI, the network and the identity's access to the vault.`,
        { context: { provider: 'AzureKeyVault', secretName: name, reason } },
      );
    }
  }

  function valueOf(vault: string, key: string): Promise<string> {
    const name = keyVaultSecretName(vault, key);
    if (!KEY_VAULT_SECRET_NAME.test(name)) return Promise.reject(unnameable(vault, key, name));
    const cached = values.get(name);
    if (cached !== undefined) return Promise.resolve(cached);
    let lookup = pending.get(name);
    if (lookup === undefined) {
      lookup = fetchSecret(vault, key, name).finally(() => pending.delete(name));
      pending.set(name, lookup);
    }
    return lookup;
  }

  return {
    name: 'AzureKeyVault',
    async resolve(vault, keys) {
      const entries = await Promise.all(
        keys.map(async (key) => [key, await valueOf(vault, key)] as const),
      );
      return new Map(entries);
    },
    async health(): Promise<SecretProviderHealth> {
      const host = new URL(config.VaultUri).host;
      if (lastFailure === undefined) {
        return { status: 'Healthy', description: `Azure Key Vault ${host}.` };
      }
      const at = new Date(lastFailure.at).toISOString();
      return {
        status: 'Degraded',
        description: `Azure Key Vault ${host}: the last lookup failed (${lastFailure.reason}) at ${at}.`,
      };
    },
  };
}

function assertValidConfig(config: AzureKeyVaultConfig): void {
  const problems: ConfigProblem[] = [];
  const problem = (name: string, message: string, value?: string) =>
    problems.push({
      key: `${CONFIG_KEY}.${name}`,
      envVar: `${CONFIG_KEY}.${name}`.replace(/\./g, '__'),
      source: 'config',
      value,
      message,
    });
  if (!config.VaultUri) {
    problem('VaultUri', 'required when SecretManagement.DefaultProvider is AzureKeyVault');
  } else if (!config.VaultUri.startsWith('https://')) {
    // The SDK sends an Entra access token to this address: never over plain HTTP.
    problem('VaultUri', 'must be an https:// URL', config.VaultUri);
  }
  const set = [config.TenantId, config.ClientId, config.ClientSecret].filter(Boolean).length;
  if (set > 0 && set < 3) {
    for (const name of ['TenantId', 'ClientId', 'ClientSecret'] as const) {
      if (!config[name]) {
        problem(
          name,
          'a service principal needs TenantId, ClientId and ClientSecret together (leave all three empty for DefaultAzureCredential)',
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

function notFound(vault: string, key: string, name: string): GatewayError {
  return new GatewayError(
    'VEC_CREDENTIAL_NOT_FOUND',
    `Credential "${key}" of vault "${vault}" is not in Azure Key Vault: create the secret "${name}" there.`,
    { context: { vault, key, secretName: name } },
  );
}

function unnameable(vault: string, key: string, name: string): GatewayError {
  return new GatewayError(
    'VEC_CREDENTIAL_NOT_FOUND',
    `Credential "${key}" of vault "${vault}" cannot be named in Azure Key Vault ("${name}" is not 1 to 127 letters, digits and dashes); rename the credential.`,
    { context: { vault, key } },
  );
}

/** Marks a failure to get a token, so it reads as such (the SDK lets it through unchanged). */
class TokenAcquisitionError extends Error {
  constructor(readonly detail: string) {
    super('could not get an access token');
    this.name = 'TokenAcquisitionError';
  }
}

function markTokenFailures(credential: TokenCredential): TokenCredential {
  return {
    async getToken(scopes, options) {
      try {
        return await credential.getToken(scopes, options);
      } catch (error) {
        throw new TokenAcquisitionError(
          `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`,
        );
      }
    },
  };
}

/** RestError by shape, so the SDK need not be loaded to recognise its errors. */
function isRestError(error: unknown): error is RestError {
  return error instanceof Error && error.name === 'RestError';
}

/** A short, value-free account of a failure: status and a plain code, never server prose. */
function describeFailure(error: unknown): string {
  if (error instanceof TokenAcquisitionError) return error.message;
  if (isRestError(error)) {
    const code = typeof error.code === 'string' && /^[A-Za-z_]{1,64}$/.test(error.code);
    if (error.statusCode !== undefined) {
      const refused = error.statusCode === 401 || error.statusCode === 403;
      return `${refused ? 'access refused, ' : ''}HTTP ${error.statusCode}${code ? ` ${error.code}` : ''}`;
    }
    if (code) return `network error ${error.code}`;
  }
  if ((error as Error)?.name === 'AbortError') return 'timed out';
  return 'unexpected error';
}
