/**
 * resolveService: which service of the vault this request is for. Inside a CONNECT tunnel the
 * request must first be for the tunnel's own authority (a client that opened a tunnel to one
 * host cannot send requests for another through it). Then the vault's services are matched
 * (VaultService caches the lists) on scheme, port, host and path: a request for a service's
 * host over another scheme or to another port (`http://` to an https service) matches nothing.
 * When nothing matches, the vault's unmatched-host setting decides: `deny` refuses,
 * `passthrough` forwards without a credential (`inject` then adds none).
 */
import { GatewayError } from '../../errors';
import type { VaultService } from '../../vault/service-types';
import { formatAuthority } from '../../http/authority';
import { CONTINUE, type RequestContext, type Stage } from '../types';
import { checkDependency, checkOptions } from './options';

export type ResolveServiceStageOptions = Record<string, never>;

export interface ResolveServiceStageDeps {
  vaults: Pick<VaultService, 'matchService' | 'getVault'>;
}

export function createResolveServiceStage(
  options: ResolveServiceStageOptions,
  deps: ResolveServiceStageDeps,
): Stage {
  checkOptions('resolveService', options, []);
  checkDependency('resolveService', deps, 'vaults', ['matchService', 'getVault']);
  const { vaults } = deps;

  return async function resolveService(ctx) {
    if (ctx.entry === 'tunnel') {
      const mismatch = tunnelMismatch(ctx);
      if (mismatch) return { kind: 'deny', error: mismatch };
    }
    const vault = ctx.vault;
    if (!vault) throw new Error('resolveService ran before authenticate chose a vault');
    const { scheme, host, port, path } = ctx.request;
    const service = await vaults.matchService(vault, { scheme, host, port, path });
    if (service) {
      ctx.service = service;
      return CONTINUE;
    }
    // Read only on a miss, from the vault cache (no database read per request).
    const { unmatchedHosts } = await vaults.getVault(vault, { cached: true });
    if (unmatchedHosts === 'passthrough') {
      ctx.unmatched = 'passthrough';
      return CONTINUE;
    }
    return {
      kind: 'deny',
      error: new GatewayError(
        'VEC_UNMATCHED_HOST_DENIED',
        `No service of vault "${vault}" matches ${scheme}://${formatAuthority({ host, port })} (a service matches only its scheme, https unless it says http, and its port, 443 or 80 unless its host names one); add one (vectra service add, --scheme http for plain HTTP) or let the vault pass unmatched hosts through without a credential (vectra vault update ${vault} --unmatched passthrough).`,
        { context: { vault, scheme, host, port } },
      ),
    };
  };
}

/** A refusal when the request (or its Host header) is not for the tunnel's authority. */
function tunnelMismatch(ctx: RequestContext): GatewayError | undefined {
  const tunnel = parseAuthority(ctx.tunnelAuthority);
  const { host, port, scheme, headers } = ctx.request;
  const hostHeader = headers.host;
  const claimed =
    hostHeader === undefined
      ? undefined
      : parseAuthority(Array.isArray(hostHeader) ? '' : hostHeader, scheme === 'https' ? 443 : 80);
  const matches = (a: { host: string; port: number } | undefined) =>
    a !== undefined && tunnel !== undefined && a.host === tunnel.host && a.port === tunnel.port;
  if (matches({ host: normalHost(host), port }) && (hostHeader === undefined || matches(claimed))) {
    return undefined;
  }
  return new GatewayError(
    'VEC_TUNNEL_HOST_MISMATCH',
    `This tunnel was opened to ${ctx.tunnelAuthority ?? '(unknown)'}, but the request is for ${formatAuthority({ host, port })}; open a tunnel to that host instead.`,
    { context: { tunnel: ctx.tunnelAuthority, host, port } },
  );
}

/** `host:port` or `[v6]:port`, lower-cased, trailing dot dropped; undefined when malformed. */
function parseAuthority(
  value: string | undefined,
  defaultPort?: number,
): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s@]+))(?::(\d{1,5}))?$/.exec(value ?? '');
  if (!match) return undefined;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port === undefined || port < 1 || port > 65535) return undefined;
  return { host: normalHost(match[1] ?? match[2]), port };
}

function normalHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}
