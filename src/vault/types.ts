/**
 * The vault model: vaults, their credentials and their services, what an operator sets up
 * before any agent connects. Implemented by ./vault-service.ts over the repositories in
 * ./repositories, consumed by the admin API (src/server/admin), `/discover` and the proxy
 * pipeline. Secret values enter through `setCredential` and leave only through
 * `resolveCredentials` (for injection); nothing else ever returns them.
 */

export type UnmatchedHostPolicy = 'passthrough' | 'deny';

export interface Vault {
  id: string;
  /** Unique, `[a-z0-9][a-z0-9._-]{0,62}`. `default` always exists and cannot be deleted. */
  name: string;
  /** What happens to requests for hosts that match no service of this vault. */
  unmatchedHosts: UnmatchedHostPolicy;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialInfo {
  key: string;
  createdAt: string;
  updatedAt: string;
}

/** How a service's credential is put on the request. Credential fields name credential keys. */
export type AuthScheme =
  | { type: 'bearer'; credential: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'api-key'; header: string; credential: string; prefix?: string }
  /** Header name → template, e.g. `{ "X-Api-Key": "{{ STRIPE_KEY }}" }`. */
  | { type: 'custom'; headers: Record<string, string> }
  | { type: 'query'; param: string; credential: string }
  | { type: 'passthrough' };

export const AUTH_SCHEME_TYPES = [
  'bearer',
  'basic',
  'api-key',
  'custom',
  'query',
  'passthrough',
] as const;
export type AuthSchemeType = (typeof AUTH_SCHEME_TYPES)[number];

/** The only scheme a service's credential is sent over; `https` unless the service says `http`. */
export type ServiceScheme = 'http' | 'https';
export const SERVICE_SCHEMES: readonly ServiceScheme[] = ['https', 'http'];
/** The port a host pattern without `:port` stands for. */
export const DEFAULT_PORTS: Readonly<Record<ServiceScheme, number>> = { https: 443, http: 80 };

export interface Service {
  id: string;
  vault: string;
  /** Unique within the vault. */
  name: string;
  /**
   * Host pattern: `api.example.com`, `*.example.com` (one or more labels), optional `:port`
   * (without one: 443 for https, 80 for http), optional path glob (`api.example.com/v1/*`, `*`
   * within a segment, `**` across segments).
   */
  host: string;
  /** Requests of another scheme, or on another port, do not match the service. */
  scheme: ServiceScheme;
  auth: AuthScheme;
  enabled: boolean;
  /** Declaration order within the vault (the last tie-breaker of matching). */
  position: number;
  createdAt: string;
  updatedAt: string;
}

export interface ServiceInput {
  name: string;
  host: string;
  /** Default `https`. */
  scheme?: ServiceScheme;
  auth: AuthScheme;
  enabled?: boolean;
}
