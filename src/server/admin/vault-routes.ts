/** Routes for vaults, their credentials (write-only values), services and sessions. */
import type { IdentityService } from '../../identity/service-types';
import type { VaultService } from '../../vault/service-types';
import type {
  AuthScheme,
  ServiceInput,
  ServiceScheme,
  UnmatchedHostPolicy,
} from '../../vault/types';
import {
  deleteRoute,
  optionalField,
  readRoute,
  stringField,
  writeRoute,
  type RouteSpec,
} from './route';

export function vaultRoutes(
  vaults: VaultService,
  sessions: Pick<IdentityService, 'mintSession' | 'listSessions' | 'revokeSession'>,
): RouteSpec[] {
  return [
    readRoute('/v1/vaults', 'List vaults', 'vaults', () => vaults.listVaults()),
    writeRoute(
      {
        method: 'post',
        path: '/v1/vaults',
        summary: 'Create a vault',
        status: 201,
        body: { name: 'vault name', unmatchedHosts: '`passthrough` or `deny` (default `deny`)' },
      },
      async (body) => {
        const vault = await vaults.createVault({
          name: stringField(body, 'name', true),
          unmatchedHosts: stringField(body, 'unmatchedHosts') as UnmatchedHostPolicy | undefined,
        });
        return { vault };
      },
    ),
    readRoute('/v1/vaults/:vault', 'Show a vault', 'vault', (req) =>
      vaults.getVault(req.params.vault),
    ),
    writeRoute(
      {
        method: 'patch',
        path: '/v1/vaults/:vault',
        summary: "Change a vault's setting for hosts that match no service",
        body: { unmatchedHosts: '`passthrough` or `deny`' },
      },
      async (body, req) => {
        const unmatchedHosts = stringField(body, 'unmatchedHosts', true) as UnmatchedHostPolicy;
        return { vault: await vaults.updateVault(req.params.vault, { unmatchedHosts }) };
      },
    ),
    deleteRoute(
      '/v1/vaults/:vault',
      'Delete a vault with its credentials, services, grants and sessions',
      (p) => vaults.deleteVault(p.vault),
    ),
    readRoute(
      '/v1/vaults/:vault/credentials',
      "List a vault's credential keys (never values)",
      'credentials',
      (req) => vaults.listCredentials(req.params.vault),
    ),
    writeRoute(
      {
        method: 'put',
        path: '/v1/vaults/:vault/credentials/:key',
        summary: 'Set a credential (the value is write-only)',
        body: { value: 'secret value; never returned' },
      },
      async (body, req) => {
        const value = stringField(body, 'value', true);
        return { credential: await vaults.setCredential(req.params.vault, req.params.key, value) };
      },
    ),
    deleteRoute('/v1/vaults/:vault/credentials/:key', 'Delete a credential', (p) =>
      vaults.deleteCredential(p.vault, p.key),
    ),
    readRoute('/v1/vaults/:vault/services', "List a vault's services", 'services', (req) =>
      vaults.listServices(req.params.vault),
    ),
    writeRoute(
      {
        method: 'post',
        path: '/v1/vaults/:vault/services',
        summary: 'Add a service',
        status: 201,
        body: {
          name: 'service name',
          host: 'host pattern; without :port, 443 for https and 80 for http',
          scheme: "'https' (default) or 'http': the only scheme the credential is sent over",
          auth: 'auth scheme object',
          enabled: 'boolean (default true)',
        },
      },
      async (body, req) => {
        const input: ServiceInput = {
          name: stringField(body, 'name', true),
          host: stringField(body, 'host', true),
          scheme: stringField(body, 'scheme') as ServiceScheme | undefined, // checked by the vault
          auth: requiredAuth(body),
          enabled: optionalField<boolean>(body, 'enabled', 'boolean'),
        };
        return { service: await vaults.createService(req.params.vault, input) };
      },
    ),
    readRoute('/v1/vaults/:vault/services/:service', 'Show a service', 'service', (req) =>
      vaults.getService(req.params.vault, req.params.service),
    ),
    writeRoute(
      {
        method: 'patch',
        path: '/v1/vaults/:vault/services/:service',
        summary: 'Change a service (host, scheme, auth, enabled)',
        body: {
          host: 'host pattern',
          scheme: "'https' or 'http'",
          auth: 'auth scheme object',
          enabled: 'boolean',
        },
      },
      async (body, req) => {
        const patch: Partial<ServiceInput> = {
          host: stringField(body, 'host'),
          scheme: stringField(body, 'scheme') as ServiceScheme | undefined, // checked by the vault
          auth: optionalField<AuthScheme>(body, 'auth', 'object'),
          enabled: optionalField<boolean>(body, 'enabled', 'boolean'),
        };
        for (const key of Object.keys(patch) as Array<keyof ServiceInput>) {
          if (patch[key] === undefined) delete patch[key];
        }
        return {
          service: await vaults.updateService(req.params.vault, req.params.service, patch),
        };
      },
    ),
    deleteRoute('/v1/vaults/:vault/services/:service', 'Remove a service', (p) =>
      vaults.deleteService(p.vault, p.service),
    ),
    writeRoute(
      {
        method: 'post',
        path: '/v1/vaults/:vault/sessions',
        summary: 'Mint a session token for the vault (shown once)',
        status: 201,
        body: {
          ttlSeconds: 'lifetime, 300 to 604800 (default 86400)',
          agent: 'agent the session is for (optional)',
        },
      },
      async (body, req) => {
        const minted = await sessions.mintSession({
          vault: req.params.vault,
          ttlSeconds: optionalField<number>(body, 'ttlSeconds', 'number'),
          agent: stringField(body, 'agent'),
        });
        return { session: minted.item, token: minted.token };
      },
    ),
    readRoute(
      '/v1/sessions',
      'List live sessions (never their tokens); `?vault=` filters',
      'sessions',
      (req) => sessions.listSessions(req.query.vault),
    ),
    deleteRoute('/v1/sessions/:id', 'Revoke a session', (p) => sessions.revokeSession(p.id)),
  ];
}

function requiredAuth(body: Record<string, unknown>): AuthScheme {
  const auth = optionalField<AuthScheme>(body, 'auth', 'object');
  if (!auth) return { type: 'passthrough' };
  return auth;
}
