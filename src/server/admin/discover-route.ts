/**
 * `GET /discover`: what an agent may use in its vault — service names, hosts, and the scheme and
 * port each credential goes to; credential keys, never values — and the port of the gateway's
 * forward proxy, so that `vectra run` finds it without being told. Only the port: the client
 * pairs it with the host it reached the API on, since the gateway's own bind address may mean
 * nothing to it (NAT, containers, another name).
 */
import { vaultFor, type AgentPrincipal } from '../../identity/agent-auth';
import { servicePort } from '../../vault/host-pattern';
import type { VaultService } from '../../vault/service-types';
import type { RouteSpec } from './route';

/** The forward proxy's bound port, or undefined while it is not listening (left out then). */
export type ProxyPort = () => number | undefined;

export function discoverRoute(
  vaults: VaultService,
  proxyPort: ProxyPort = () => undefined,
): RouteSpec {
  return {
    method: 'get',
    path: '/discover',
    access: 'agent',
    summary:
      "The caller's vault, its enabled services, the keys of its credentials (never values) and the forward proxy's port",
    handle: async (req) => {
      const vault = vaultFor(req.principal as AgentPrincipal, req.header('x-vault') || undefined);
      const [services, credentials] = await Promise.all([
        vaults.listServices(vault),
        vaults.listCredentials(vault),
      ]);
      const port = proxyPort();
      return {
        body: {
          vault,
          services: services
            .filter((s) => s.enabled)
            .map((s) => ({ name: s.name, host: s.host, scheme: s.scheme, port: servicePort(s) })),
          available_credentials: credentials.map((c) => c.key),
          ...(port === undefined ? {} : { proxy: { port } }),
        },
      };
    },
  };
}
