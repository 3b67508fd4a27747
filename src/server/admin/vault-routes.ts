/** Routes for vaults, their credentials (write-only values), services and sessions. */
import type { VaultService } from '../../vault/service-types';
import type {
  AuthScheme,
  ServiceInput,
  ServiceScheme,
  UnmatchedHostPolicy,
} from '../../vault/types';
import { bodyObject, optionalField, stringField, type RouteSpec } from './route';

export function vaultRoutes(vaults: VaultService): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/vaults',
      access: 'any',
      summary: 'List vaults',
      handle: async () => ({ body: { vaults: await vaults.listVaults() } }),
    },
    {
      method: 'post',
      path: '/v1/vaults',
      access: 'owner',
      summary: 'Create a vault',
      status: 201,
      body: { name: 'vault name', unmatchedHosts: '`passthrough` or `deny` (default `deny`)' },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const vault = await vaults.createVault({
          name: stringField(body, 'name', true),
          unmatchedHosts: stringField(body, 'unmatchedHosts') as UnmatchedHostPolicy | undefined,
        });
        return { status: 201, body: { vault } };
      },
    },
    {
      method: 'get',
      path: '/v1/vaults/:vault',
      access: 'any',
      summary: 'Show a vault',
      handle: async (req) => ({ body: { vault: await vaults.getVault(req.params.vault) } }),
    },
    {
      method: 'patch',
      path: '/v1/vaults/:vault',
      access: 'owner',
      summary: "Change a vault's setting for hosts that match no service",
      body: { unmatchedHosts: '`passthrough` or `deny`' },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const unmatchedHosts = stringField(body, 'unmatchedHosts', true) as UnmatchedHostPolicy;
        return { body: { vault: await vaults.updateVault(req.params.vault, { unmatchedHosts }) } };
      },
    },
    {
      method: 'delete',
      path: '/v1/vaults/:vault',
      access: 'owner',
      summary: 'Delete a vault with its credentials, services, grants and sessions',
      status: 204,
      handle: async (req) => {
        await vaults.deleteVault(req.params.vault);
        return { status: 204 };
      },
    },
    {
      method: 'get',
      path: '/v1/vaults/:vault/credentials',
      access: 'any',
      summary: "List a vault's credential keys (never values)",
      handle: async (req) => ({
        body: { credentials: await vaults.listCredentials(req.params.vault) },
      }),
    },
    {
      method: 'put',
      path: '/v1/vaults/:vault/credentials/:key',
      access: 'owner',
      summary: 'Set a credential (the value is write-only)',
      body: { value: 'secret value; never returned' },
      handle: async (req) => {
        const value = stringField(bodyObject(req.body), 'value', true);
        return {
          body: { credential: await vaults.setCredential(req.params.vault, req.params.key, value) },
        };
      },
    },
    {
      method: 'delete',
      path: '/v1/vaults/:vault/credentials/:key',
      access: 'owner',
      summary: 'Delete a credential',
      status: 204,
      handle: async (req) => {
        await vaults.deleteCredential(req.params.vault, req.params.key);
        return { status: 204 };
      },
    },
    {
      method: 'get',
      path: '/v1/vaults/:vault/services',
      access: 'any',
      summary: "List a vault's services",
      handle: async (req) => ({ body: { services: await vaults.listServices(req.params.vault) } }),
    },
    {
      method: 'post',
      path: '/v1/vaults/:vault/services',
      access: 'owner',
      summary: 'Add a service',
      status: 201,
      body: {
        name: 'service name',
        host: 'host pattern; without :port, 443 for https and 80 for http',
        scheme: "'https' (default) or 'http': the only scheme the credential is sent over",
        auth: 'auth scheme object',
        enabled: 'boolean (default true)',
      },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const input: ServiceInput = {
          name: stringField(body, 'name', true),
          host: stringField(body, 'host', true),
          scheme: stringField(body, 'scheme') as ServiceScheme | undefined, // checked by the vault
          auth: requiredAuth(body),
          enabled: optionalField<boolean>(body, 'enabled', 'boolean'),
        };
        return {
          status: 201,
          body: { service: await vaults.createService(req.params.vault, input) },
        };
      },
    },
    {
      method: 'get',
      path: '/v1/vaults/:vault/services/:service',
      access: 'any',
      summary: 'Show a service',
      handle: async (req) => ({
        body: { service: await vaults.getService(req.params.vault, req.params.service) },
      }),
    },
    {
      method: 'patch',
      path: '/v1/vaults/:vault/services/:service',
      access: 'owner',
      summary: 'Change a service (host, scheme, auth, enabled)',
      body: {
        host: 'host pattern',
        scheme: "'https' or 'http'",
        auth: 'auth scheme object',
        enabled: 'boolean',
      },
      handle: async (req) => {
        const body = bodyObject(req.body);
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
          body: {
            service: await vaults.updateService(req.params.vault, req.params.service, patch),
          },
        };
      },
    },
    {
      method: 'delete',
      path: '/v1/vaults/:vault/services/:service',
      access: 'owner',
      summary: 'Remove a service',
      status: 204,
      handle: async (req) => {
        await vaults.deleteService(req.params.vault, req.params.service);
        return { status: 204 };
      },
    },
    {
      method: 'post',
      path: '/v1/vaults/:vault/sessions',
      access: 'owner',
      summary: 'Mint a session token for the vault (shown once)',
      status: 201,
      body: {
        ttlSeconds: 'lifetime, 300 to 604800 (default 86400)',
        agent: 'agent the session is for (optional)',
      },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const minted = await vaults.mintSession({
          vault: req.params.vault,
          ttlSeconds: optionalField<number>(body, 'ttlSeconds', 'number'),
          agent: stringField(body, 'agent'),
        });
        return { status: 201, body: { session: minted.item, token: minted.token } };
      },
    },
    {
      method: 'get',
      path: '/v1/sessions',
      access: 'any',
      summary: 'List live sessions (never their tokens); `?vault=` filters',
      handle: async (req) => ({ body: { sessions: await vaults.listSessions(req.query.vault) } }),
    },
    {
      method: 'delete',
      path: '/v1/sessions/:id',
      access: 'owner',
      summary: 'Revoke a session',
      status: 204,
      handle: async (req) => {
        await vaults.revokeSession(req.params.id);
        return { status: 204 };
      },
    },
  ];
}

function requiredAuth(body: Record<string, unknown>): AuthScheme {
  const auth = optionalField<AuthScheme>(body, 'auth', 'object');
  if (!auth) return { type: 'passthrough' };
  return auth;
}
