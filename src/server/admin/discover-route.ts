/** `GET /discover`: what an agent may use in its vault — service names and hosts, credential keys, never values. */
import { vaultFor, type AgentPrincipal } from '../../identity/agent-auth';
import type { VaultService } from '../../vault/service-types';
import type { RouteSpec } from './route';

export function discoverRoute(vaults: VaultService): RouteSpec {
  return {
    method: 'get',
    path: '/discover',
    access: 'agent',
    summary:
      "The caller's vault, its enabled services and the keys of its credentials (never values)",
    handle: async (req) => {
      const vault = vaultFor(req.principal as AgentPrincipal, req.header('x-vault') || undefined);
      const [services, credentials] = await Promise.all([
        vaults.listServices(vault),
        vaults.listCredentials(vault),
      ]);
      return {
        body: {
          vault,
          services: services.filter((s) => s.enabled).map((s) => ({ name: s.name, host: s.host })),
          available_credentials: credentials.map((c) => c.key),
        },
      };
    },
  };
}
