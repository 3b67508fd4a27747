/**
 * RequestContexts for stage and pipeline tests, built the way an entry adapter builds them
 * (createRequestContext), with defaults for what a test does not care about.
 */
import type { AgentPrincipal } from '../../src/identity/agent-auth';
import { createRequestContext, type RequestContextInit } from '../../src/pipeline/context';
import type { ProxyRequest } from '../../src/http/types';
import type { RequestContext } from '../../src/pipeline/types';
import type { Service } from '../../src/vault/types';

export interface TestContextOptions extends Partial<Omit<RequestContextInit, 'request'>> {
  /** Merged over `GET https://api.github.com:443/` with no headers and no upgrade. */
  request?: Partial<ProxyRequest>;
  /** Set on the context as `authenticate` would (given, even as undefined, it is assigned). */
  principal?: AgentPrincipal;
  /** Set on the context as `authenticate` would. */
  vault?: string;
}

/** The agent `bot` (id `a1`) with access to `vault`; `fields` overrides id, name or vaults. */
export function agentPrincipal(
  vault = 'prod',
  fields: { agentId?: string; agentName?: string; vaults?: string[] } = {},
): AgentPrincipal {
  return { kind: 'agent', agentId: 'a1', agentName: 'bot', vaults: [vault], ...fields };
}

export function testContext(options: TestContextOptions = {}): RequestContext {
  const { request, principal, vault, ...init } = options;
  const ctx = createRequestContext({
    entry: 'forward',
    clientAddress: '127.0.0.1',
    credentials: {},
    ...init,
    request: {
      method: 'GET',
      scheme: 'https',
      host: 'api.github.com',
      port: 443,
      path: '/',
      headers: {},
      upgrade: false,
      ...request,
    },
  });
  if ('principal' in options) ctx.principal = principal;
  if (vault !== undefined) ctx.vault = vault;
  return ctx;
}

/** `GET http://127.0.0.1:<port>/` with no headers and no upgrade; `extra` wins. */
export function loopbackRequest(port: number, extra: Partial<ProxyRequest> = {}): ProxyRequest {
  return {
    method: 'GET',
    scheme: 'http',
    host: '127.0.0.1',
    port,
    path: '/',
    headers: {},
    upgrade: false,
    ...extra,
  };
}

/** The service `github` (id `s1`) of vault `prod`: https://api.github.com with a bearer `GH`. */
export function testService(fields: Partial<Service> = {}): Service {
  return {
    id: 's1',
    vault: 'prod',
    name: 'github',
    host: 'api.github.com',
    scheme: 'https',
    auth: { type: 'bearer', credential: 'GH' },
    enabled: true,
    position: 0,
    createdAt: '',
    updatedAt: '',
    ...fields,
  };
}
