/** Mounts the admin API, `/discover` and `/v1/openapi.json` from their route lists. */
import { Router, type Request, type Response } from 'express';
import type { IdentityService } from '../../identity/service-types';
import type { VaultService } from '../../vault/service-types';
import { createAuthorizer, type AuthorizeDeps } from './authorize';
import type { EventStreamRoute } from './event-stream';
import { discoverRoute, type ProxyPort } from './discover-route';
import { identityRoutes } from './identity-routes';
import { buildOpenApi } from './openapi';
import { toRouteRequest, type RouteSpec } from './route';
import { vaultRoutes } from './vault-routes';

export interface AdminApiDeps extends AuthorizeDeps {
  vaults: VaultService;
  identity: IdentityService;
  version: string;
  /** Vectra's CA certificate (PEM), served at /v1/ca.pem for clients to trust. */
  caPem: string;
  /** The forward proxy's bound port, advertised by `/discover` (left out when undefined). */
  proxyPort?: ProxyPort;
  /** Extra routes of other components (audit log, …). */
  extraRoutes?: RouteSpec[];
  /** Routes that stream (server-sent events): documented by `doc`, served by `handler`. */
  streams?: Array<Pick<EventStreamRoute, 'doc' | 'handler'>>;
}

export function adminRoutes(deps: AdminApiDeps): RouteSpec[] {
  const routes: RouteSpec[] = [
    ...vaultRoutes(deps.vaults, deps.identity),
    ...identityRoutes(deps.identity),
    discoverRoute(deps.vaults, deps.proxyPort),
    {
      method: 'get',
      path: '/v1/ca.pem',
      access: 'none',
      summary:
        "Vectra's CA certificate (PEM): trust it to let Vectra terminate TLS for your agents",
      handle: async () => ({ body: deps.caPem, contentType: 'application/x-pem-file' }),
    },
    ...(deps.extraRoutes ?? []),
  ];
  let openapi: Record<string, unknown> = {};
  routes.push({
    method: 'get',
    path: '/v1/openapi.json',
    access: 'none',
    summary: 'This document',
    handle: async () => ({ body: openapi }),
  });
  openapi = buildOpenApi(
    [...routes, ...(deps.streams ?? []).map((stream) => stream.doc)],
    deps.version,
  );
  return routes;
}

export function createAdminRouter(deps: AdminApiDeps): Router {
  const router = Router();
  const authorize = createAuthorizer(deps);
  for (const stream of deps.streams ?? []) router.get(stream.doc.path, stream.handler(authorize));
  for (const route of adminRoutes(deps)) {
    router[route.method](route.path, async function handleRoute(req: Request, res: Response) {
      const principal = await authorize(route.access, req);
      const answer = await route.handle(toRouteRequest(req, principal));
      res.status(answer.status ?? route.status ?? 200);
      // Answers may hold a token shown once: never let a proxy or browser keep them.
      res.setHeader('Cache-Control', 'no-store');
      if (answer.body === undefined) res.end();
      else if (answer.contentType) res.type(answer.contentType).send(answer.body);
      else res.json(answer.body);
    });
  }
  return router;
}
