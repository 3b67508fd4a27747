/**
 * The client for the admin REST API (docs/admin-api.md), used by the CLI and `vectra run`: one
 * typed method per route, and where to find the gateway's address and admin token. A gateway
 * refusal becomes an `ApiError` (printed `vectra: <message> [<code>]`); no answer at all is
 * VEC_CLI_UNREACHABLE.
 */
import { GatewayError, type ErrorBody, type ErrorCode } from '../errors';
import type { Approval, ApprovalScope, ApprovalStatus } from '../approvals/types';
import type { OverrideTier } from '../config/rate-limit-override-list';
import type { OverrideEntry } from '../guards/rate-limit-overrides';
import type { AdminRole, AdminTokenInfo, Agent, Session } from '../identity/types';
import type {
  CredentialInfo,
  Service,
  ServiceInput,
  UnmatchedHostPolicy,
  Vault,
} from '../vault/types';
import type { SavedLogin } from './login-store';

/** Bad input found before any request is sent; the CLI prints it and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A refusal answered by the gateway, with its code, HTTP status and context fields. */
export class ApiError extends GatewayError {
  readonly body: ErrorBody;

  constructor(status: number, body: ErrorBody) {
    const field = typeof body.field === 'string' ? body.field : undefined;
    const message =
      field && !body.message.includes(field) ? `${body.message} (field: ${field})` : body.message;
    // The code comes from the server, which may know codes this CLI's registry does not.
    super(body.code as ErrorCode, message, { statusCode: status });
    this.name = 'ApiError';
    this.body = body;
  }

  override toJSON(): ErrorBody {
    return this.body;
  }
}

export const NO_ADDRESS = 'no gateway address: pass --addr or run `vectra auth login --addr URL`';

/** `http(s)://host[:port][/prefix]` without a trailing slash, or a UsageError. */
export function normalizeAddress(addr: string): string {
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw new UsageError(`--addr must be a URL such as http://127.0.0.1:7080, not "${addr}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--addr must start with http:// or https://, not "${addr}"`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError('--addr must not hold credentials, a query or a fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Address: the `--addr` flag, then VECTRA_ADDR, then the saved login. */
export function resolveAddress(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  login: SavedLogin | undefined,
): string {
  const addr = flag || env.VECTRA_ADDR || login?.addr;
  if (!addr) throw new UsageError(NO_ADDRESS);
  return normalizeAddress(addr);
}

/**
 * Token: VECTRA_ADMIN_TOKEN, then the saved login — but the saved token only goes to the
 * address it was saved for, so `--addr` pointing elsewhere never receives it.
 */
export function resolveToken(
  addr: string,
  env: NodeJS.ProcessEnv,
  login: SavedLogin | undefined,
): string {
  if (env.VECTRA_ADMIN_TOKEN) return env.VECTRA_ADMIN_TOKEN;
  if (login && normalizeAddress(login.addr) === addr) return login.token;
  const saved = login ? ` (the saved login is for ${login.addr})` : '';
  throw new UsageError(
    `no admin token for ${addr}${saved}: run \`vectra auth login --addr ${addr} --token-stdin\` or set VECTRA_ADMIN_TOKEN`,
  );
}

export interface ApiClientOptions {
  addr: string;
  token: string;
  fetch?: typeof fetch;
  /** Per request; 30 s by default. */
  timeoutMs?: number;
}

export interface DiscoverAnswer {
  vault: string;
  services: Array<{ name: string; host: string }>;
  available_credentials: string[];
  /** The forward proxy's port (gateways before it was advertised leave it out). */
  proxy?: { port: number };
}

/** `GET /v1/rate-limits`. */
export interface RateLimitsAnswer {
  default: { requestsPerMinute: number; burst: number; windowSeconds: number };
  overrides: OverrideEntry[];
}

/** `GET /v1/approvals` filters; absent ones do not filter. */
export interface ApprovalQuery {
  status?: ApprovalStatus;
  vault?: string;
  agent?: string;
  limit?: number;
}

/** `POST /v1/approvals/{id}/approve`. */
export interface ApproveBody {
  scope: ApprovalScope;
  /** For scope `session`: how long the standing approval lasts. */
  minutes?: number;
  /** For `session` and `always`: a glob the path must match. */
  pathPattern?: string;
  comment?: string;
}

export type ServicePatch = Partial<Pick<ServiceInput, 'host' | 'scheme' | 'auth' | 'enabled'>>;

export type ApiClient = ReturnType<typeof createApiClient>;

export function createApiClient(options: ApiClientOptions) {
  const base = normalizeAddress(options.addr);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const seg = encodeURIComponent;

  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    token = options.token,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // A redirect would carry the admin token elsewhere; the API never sends one.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw unreachable(base, err);
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      throw new GatewayError(
        'VEC_CLI_UNREACHABLE',
        `${base} answered ${res.status} redirecting to ${location ?? '(nowhere)'}; pass the gateway's own address with --addr`,
      );
    }
    const parsed = parseJson(text);
    if (!res.ok) {
      if (isErrorBody(parsed)) throw new ApiError(res.status, parsed);
      throw new GatewayError(
        'VEC_CLI_UNREACHABLE',
        `${base} answered ${method} ${path} with HTTP ${res.status} and no Vectra error; is it a Vectra gateway?`,
        { statusCode: res.status },
      );
    }
    if (res.status === 204 || text === '') return undefined as T;
    if (parsed === undefined) {
      throw new GatewayError(
        'VEC_CLI_UNREACHABLE',
        `${base} answered ${method} ${path} with something that is not JSON; is it a Vectra gateway?`,
      );
    }
    return parsed as T;
  }

  return {
    addr: base,

    listVaults: () => call<{ vaults: Vault[] }>('GET', '/v1/vaults'),
    createVault: (input: { name: string; unmatchedHosts?: UnmatchedHostPolicy }) =>
      call<{ vault: Vault }>('POST', '/v1/vaults', input),
    getVault: (vault: string) => call<{ vault: Vault }>('GET', `/v1/vaults/${seg(vault)}`),
    updateVault: (vault: string, patch: { unmatchedHosts: UnmatchedHostPolicy }) =>
      call<{ vault: Vault }>('PATCH', `/v1/vaults/${seg(vault)}`, patch),
    deleteVault: (vault: string) => call<void>('DELETE', `/v1/vaults/${seg(vault)}`),

    listCredentials: (vault: string) =>
      call<{ credentials: CredentialInfo[] }>('GET', `/v1/vaults/${seg(vault)}/credentials`),
    setCredential: (vault: string, key: string, value: string) =>
      call<{ credential: CredentialInfo }>(
        'PUT',
        `/v1/vaults/${seg(vault)}/credentials/${seg(key)}`,
        { value },
      ),
    deleteCredential: (vault: string, key: string) =>
      call<void>('DELETE', `/v1/vaults/${seg(vault)}/credentials/${seg(key)}`),

    listServices: (vault: string) =>
      call<{ services: Service[] }>('GET', `/v1/vaults/${seg(vault)}/services`),
    createService: (vault: string, input: ServiceInput) =>
      call<{ service: Service }>('POST', `/v1/vaults/${seg(vault)}/services`, input),
    getService: (vault: string, name: string) =>
      call<{ service: Service }>('GET', `/v1/vaults/${seg(vault)}/services/${seg(name)}`),
    updateService: (vault: string, name: string, patch: ServicePatch) =>
      call<{ service: Service }>('PATCH', `/v1/vaults/${seg(vault)}/services/${seg(name)}`, patch),
    deleteService: (vault: string, name: string) =>
      call<void>('DELETE', `/v1/vaults/${seg(vault)}/services/${seg(name)}`),

    mintSession: (vault: string, input: { ttlSeconds?: number; agent?: string } = {}) =>
      call<{ session: Session; token: string }>('POST', `/v1/vaults/${seg(vault)}/sessions`, input),
    listSessions: (vault?: string) =>
      call<{ sessions: Session[] }>(
        'GET',
        vault === undefined ? '/v1/sessions' : `/v1/sessions?vault=${seg(vault)}`,
      ),
    revokeSession: (id: string) => call<void>('DELETE', `/v1/sessions/${seg(id)}`),

    listAgents: () => call<{ agents: Agent[] }>('GET', '/v1/agents'),
    createAgent: (input: { name: string; vaults?: string[] }) =>
      call<{ agent: Agent; token: string }>('POST', '/v1/agents', input),
    getAgent: (agent: string) => call<{ agent: Agent }>('GET', `/v1/agents/${seg(agent)}`),
    deleteAgent: (agent: string) => call<void>('DELETE', `/v1/agents/${seg(agent)}`),
    rotateAgent: (agent: string) =>
      call<{ agent: Agent; token: string }>('POST', `/v1/agents/${seg(agent)}/rotate`),
    grantVault: (agent: string, vault: string) =>
      call<{ agent: Agent }>('PUT', `/v1/agents/${seg(agent)}/vaults/${seg(vault)}`),
    revokeVault: (agent: string, vault: string) =>
      call<{ agent: Agent }>('DELETE', `/v1/agents/${seg(agent)}/vaults/${seg(vault)}`),

    listAdminTokens: () => call<{ adminTokens: AdminTokenInfo[] }>('GET', '/v1/admin-tokens'),
    createAdminToken: (input: { name: string; role: AdminRole }) =>
      call<{ adminToken: AdminTokenInfo; token: string }>('POST', '/v1/admin-tokens', input),
    revokeAdminToken: (id: string) => call<void>('DELETE', `/v1/admin-tokens/${seg(id)}`),

    listRateLimits: () => call<RateLimitsAnswer>('GET', '/v1/rate-limits'),
    /** A service `<vault>/<service>` goes as one path segment, its slash encoded. */
    setRateLimit: (tier: OverrideTier, name: string, requestsPerMinute: number) =>
      call<{ override: OverrideEntry }>('PUT', `/v1/rate-limits/${seg(tier)}/${seg(name)}`, {
        requestsPerMinute,
      }),
    deleteRateLimit: (tier: OverrideTier, name: string) =>
      call<void>('DELETE', `/v1/rate-limits/${seg(tier)}/${seg(name)}`),

    listApprovals: (query: ApprovalQuery = {}) =>
      call<{ approvals: Approval[] }>('GET', `/v1/approvals${queryString({ ...query })}`),
    getApproval: (id: string) => call<{ approval: Approval }>('GET', `/v1/approvals/${seg(id)}`),
    approve: (id: string, body: ApproveBody) =>
      call<{ approval: Approval }>('POST', `/v1/approvals/${seg(id)}/approve`, body),
    deny: (id: string, reason: string) =>
      call<{ approval: Approval }>('POST', `/v1/approvals/${seg(id)}/deny`, { reason }),
    listStandingApprovals: (query: { vault?: string; agent?: string } = {}) =>
      call<{ standing: Approval[] }>('GET', `/v1/approvals/standing${queryString(query)}`),
    revokeStandingApproval: (id: string) =>
      call<{ approval: Approval }>('DELETE', `/v1/approvals/standing/${seg(id)}`),

    openApi: () => call<Record<string, unknown>>('GET', '/v1/openapi.json'),
    /** `/discover` as an agent: takes the agent or session token, not the admin one. */
    discover: (agentToken: string, vault?: string) =>
      call<DiscoverAnswer>(
        'GET',
        '/discover',
        undefined,
        agentToken,
        vault ? { 'x-vault': vault } : {},
      ),
  };
}

/** The error for a gateway that gave no answer at all, saying why (timeout, refused, ...). */
export function unreachable(base: string, err: unknown): GatewayError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  const why =
    e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.name);
  return new GatewayError(
    'VEC_CLI_UNREACHABLE',
    `no answer from ${base} (${why}); check --addr and that \`vectra serve\` runs there`,
    { cause: err },
  );
}

/** `?a=1&b=x` from the defined values, or '' when there are none. */
function queryString(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  const body = value as Partial<ErrorBody> | undefined;
  return typeof body?.code === 'string' && typeof body.message === 'string';
}
