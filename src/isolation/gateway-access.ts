/**
 * What every isolation mode needs before the command starts, in an order that fails early and
 * leaves nothing behind:
 *   1. resolve the mode and check `--proxy`/VECTRA_PROXY (usage errors before any request);
 *   2. agent mode: check the token against /discover, so a bad one fails fast (its answer also
 *      holds the forward proxy's port);
 *   3. fetch the CA (before minting, so a failure leaves no unused session behind);
 *   4. local mode: mint the session token and, unless the proxy was named, ask /discover with
 *      it for the proxy's port.
 */
import type { DiscoverAnswer } from '../client/api-client';
import type { SavedLogin } from '../client/login-store';
import { fetchGatewayCa } from './ca-bundle';
import { explicitProxyBase, resolveProxyBase } from './proxy-url';
import { resolveRunMode, type RunFlags, type RunMode } from './run-mode';
import { checkAgentToken, discoverWithSession, mintSessionToken } from './run-token';

export interface GatewayAccess {
  mode: RunMode;
  /** The agent's token (agent mode) or the minted session token (local mode). */
  token: string;
  /** Vectra's CA certificate (PEM). */
  vectraCa: string;
  /** The forward proxy's base URL, without credentials. */
  proxyBase: URL;
}

export interface AccessRequest {
  flags: RunFlags & { proxy?: string };
  env: NodeJS.ProcessEnv;
  readLogin: () => SavedLogin | undefined;
}

export async function resolveGatewayAccess(
  request: AccessRequest,
  fetchImpl?: typeof fetch,
): Promise<GatewayAccess> {
  const { flags, env } = request;
  const mode = resolveRunMode(flags, env, request.readLogin);
  const named = explicitProxyBase(flags.proxy, env) !== undefined;
  let discovered: DiscoverAnswer | undefined;
  if (mode.kind === 'agent') discovered = await checkAgentToken(mode, fetchImpl);
  const vectraCa = await fetchGatewayCa(mode.addr, fetchImpl);
  let token: string;
  if (mode.kind === 'agent') {
    token = mode.token;
  } else {
    token = await mintSessionToken(mode, fetchImpl);
    if (!named) discovered = await discoverWithSession(mode, token, fetchImpl);
  }
  const proxyBase = resolveProxyBase(mode.addr, flags.proxy, env, discovered?.proxy);
  return { mode, token, vectraCa, proxyBase };
}
