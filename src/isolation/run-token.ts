/**
 * The token the child's proxy URL carries, and what `/discover` says with it. Agent mode: the
 * supplied token, checked once against GET /discover before the command starts, so a revoked or
 * expired token fails fast instead of turning every proxied call into a 407. Local mode: a
 * session token for the vault, minted with the admin login; `/discover` is then asked with it
 * only when the proxy's port is needed (no `--proxy`, no VECTRA_PROXY).
 */
import { ApiError, createApiClient, type DiscoverAnswer } from '../client/api-client';
import { EXIT } from '../errors';
import { RunError, type RunMode } from './run-mode';

type AgentMode = Extract<RunMode, { kind: 'agent' }>;
type LocalMode = Extract<RunMode, { kind: 'local' }>;

/**
 * `/discover`'s answer when the gateway accepts `mode.token` for `mode.vault`; else a RunError
 * (exit 1).
 */
export async function checkAgentToken(
  mode: AgentMode,
  fetchImpl?: typeof fetch,
): Promise<DiscoverAnswer> {
  const client = createApiClient({ addr: mode.addr, token: mode.token, fetch: fetchImpl });
  try {
    return await client.discover(mode.token, mode.vault);
  } catch (err) {
    if (err instanceof ApiError && (err.statusCode === 401 || err.statusCode === 403)) {
      throw new RunError(
        `agent token rejected by gateway (HTTP ${err.statusCode})`,
        EXIT.FAILURE,
        `the gateway said: ${err.message.replace(/\.$/, '')}. Check with: ` +
          `curl -H "Authorization: Bearer $VECTRA_TOKEN" -H "X-Vault: ${mode.vault}" ${mode.addr}/discover`,
      );
    }
    throw err;
  }
}

/** A session token for `mode.vault`, living `mode.ttlSeconds`. */
export async function mintSessionToken(mode: LocalMode, fetchImpl?: typeof fetch): Promise<string> {
  const client = createApiClient({ addr: mode.addr, token: mode.adminToken, fetch: fetchImpl });
  const answer = await client.mintSession(mode.vault, { ttlSeconds: mode.ttlSeconds });
  return answer.token;
}

/** `/discover` asked with the session token just minted (local mode). */
export async function discoverWithSession(
  mode: LocalMode,
  sessionToken: string,
  fetchImpl?: typeof fetch,
): Promise<DiscoverAnswer> {
  const client = createApiClient({ addr: mode.addr, token: sessionToken, fetch: fetchImpl });
  return client.discover(sessionToken, mode.vault);
}
