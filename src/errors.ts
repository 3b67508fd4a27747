/**
 * The one registry of Vectra's error codes. A code is `VEC_<AREA>_<PROBLEM>`, stable and never
 * reused; `docs/errors.md` lists every code here (test/unit/errors.test.ts keeps them in step).
 */

export interface ErrorDefinition {
  /** HTTP status sent with the error (or the exit-code class for start-up errors). */
  readonly status: number;
  /** Short title used as the `error` field of the wire format. */
  readonly title: string;
  /** Default message: what happened and what to do about it. */
  readonly message: string;
}

export const ERROR_CODES = {
  VEC_CONFIG_INVALID: {
    status: 500,
    title: 'Invalid configuration',
    message: 'The configuration is invalid; fix the listed keys and start again.',
  },
  VEC_REQUEST_MALFORMED: {
    status: 400,
    title: 'Malformed request',
    message: 'The request could not be parsed; check its syntax and content type.',
  },
  VEC_REQUEST_TOO_LARGE: {
    status: 413,
    title: 'Request too large',
    message: 'The request body exceeds the allowed size.',
  },
  VEC_REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request timeout',
    message: 'The request head or body did not arrive in time; send the whole request at once.',
  },
  VEC_ROUTE_NOT_FOUND: {
    status: 404,
    title: 'Not found',
    message: 'No route matches this method and path.',
  },
  VEC_INTERNAL_ERROR: {
    status: 500,
    title: 'Internal error',
    message: 'Vectra hit an unexpected error; the request id in the logs has the details.',
  },
  VEC_STORAGE_UNAVAILABLE: {
    status: 503,
    title: 'Database unavailable',
    message:
      'The database cannot be reached; check the connection string and that the server runs.',
  },
  VEC_STORAGE_MIGRATION_FAILED: {
    status: 500,
    title: 'Database migration failed',
    message: 'A schema migration failed; the database was left at its previous version.',
  },
  VEC_CACHE_UNAVAILABLE: {
    status: 503,
    title: 'Cache unavailable',
    message: 'The cache provider cannot be reached; check its connection string and that it runs.',
  },
  VEC_TLS_CERTIFICATE_INVALID: {
    status: 500,
    title: 'TLS certificate invalid',
    message: 'The HTTPS certificate could not be loaded; check its path, format and password.',
  },
  VEC_SERVER_LISTEN_FAILED: {
    status: 500,
    title: 'Cannot listen',
    message: 'A listener could not bind its port; pick a free port or stop the other process.',
  },
  VEC_REQUEST_INVALID: {
    status: 400,
    title: 'Invalid request',
    message: 'A field of the request is invalid; the `field` names it.',
  },
  VEC_RESOURCE_CONFLICT: {
    status: 409,
    title: 'Conflict',
    message:
      'Something with that name already exists; pick another name or update the existing one.',
  },
  VEC_VAULT_NOT_FOUND: {
    status: 404,
    title: 'Vault not found',
    message: 'No vault has that name; see GET /v1/vaults.',
  },
  VEC_VAULT_DEFAULT_PROTECTED: {
    status: 409,
    title: 'Default vault protected',
    message: 'The default vault always exists and cannot be deleted or renamed.',
  },
  VEC_CREDENTIAL_NOT_FOUND: {
    status: 404,
    title: 'Credential not found',
    message: 'The vault has no credential with that key; see GET /v1/vaults/{vault}/credentials.',
  },
  VEC_SERVICE_NOT_FOUND: {
    status: 404,
    title: 'Service not found',
    message: 'The vault has no service with that name; see GET /v1/vaults/{vault}/services.',
  },
  VEC_AGENT_NOT_FOUND: {
    status: 404,
    title: 'Agent not found',
    message: 'No agent has that name; see GET /v1/agents.',
  },
  VEC_SESSION_NOT_FOUND: {
    status: 404,
    title: 'Session not found',
    message: 'No live session has that id.',
  },
  VEC_ADMIN_TOKEN_NOT_FOUND: {
    status: 404,
    title: 'Admin token not found',
    message: 'No admin token has that id.',
  },
  VEC_AUTH_REQUIRED: {
    status: 401,
    title: 'Authentication required',
    message: 'Send a token as `Authorization: Bearer <token>`.',
  },
  VEC_AUTH_TOKEN_REJECTED: {
    status: 401,
    title: 'Token rejected',
    message: 'The token is unknown, revoked or expired; get a new one from an operator.',
  },
  VEC_AUTH_FORBIDDEN: {
    status: 403,
    title: 'Forbidden',
    message: 'The token is valid but not allowed to do this (role or vault grant).',
  },
  VEC_AUTH_THROTTLED: {
    status: 429,
    title: 'Too many failed authentications',
    message: 'Too many rejected tokens from this client; wait for Retry-After seconds.',
  },
  VEC_MASTER_KEY_INVALID: {
    status: 500,
    title: 'Master key invalid',
    message:
      'The master password or key file does not open this database; supply the one it was created with.',
  },
  VEC_SECRET_PROVIDER_UNAVAILABLE: {
    status: 503,
    title: 'Secret provider unavailable',
    message: 'The configured secret provider could not be reached or refused the request.',
  },
  VEC_PROXY_AUTH_REQUIRED: {
    status: 407,
    title: 'Proxy authentication required',
    message:
      'Send the agent token in Proxy-Authorization (Basic token:vault, Basic token, or Bearer token).',
  },
  VEC_UNMATCHED_HOST_DENIED: {
    status: 403,
    title: 'Host not allowed',
    message:
      "No service of this vault matches the request's scheme, host and port, and the vault's unmatched-host setting is deny.",
  },
  VEC_TUNNEL_HOST_MISMATCH: {
    status: 421,
    title: 'Host does not match the tunnel',
    message:
      'Inside a CONNECT tunnel every request must be for the host and port the tunnel was opened to.',
  },
  VEC_TUNNEL_LIMIT: {
    status: 429,
    title: 'Too many tunnels',
    message:
      'This agent has too many open tunnels; close some or raise System.Proxy.MaxTunnelsPerAgent.',
  },
  VEC_UPGRADE_REFUSED: {
    status: 400,
    title: 'Upgrade refused',
    message:
      'Only Upgrade: websocket is relayed: the bytes after a protocol switch are not judged by the policy. Send the request without Upgrade.',
  },
  VEC_HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request headers too large',
    message: 'The request headers exceed System.Proxy.MaxHeaderBytes.',
  },
  VEC_RESPONSE_TOO_LARGE: {
    status: 502,
    title: 'Upstream response too large',
    message: 'The upstream response exceeds System.Proxy.MaxResponseBodyBytes; it was cut off.',
  },
  VEC_UPSTREAM_BLOCKED: {
    status: 403,
    title: 'Upstream address blocked',
    message:
      'The host resolves to an address Vectra does not connect to (metadata, private, loopback, link-local); allow it with System.Proxy.NetworkAllowlist if intended.',
  },
  VEC_UPSTREAM_UNREACHABLE: {
    status: 502,
    title: 'Upstream unreachable',
    message: 'The upstream could not be reached (DNS failure, connection refused or reset).',
  },
  VEC_UPSTREAM_TLS_INVALID: {
    status: 502,
    title: 'Upstream certificate not trusted',
    message:
      "The upstream's TLS certificate did not verify; Vectra never turns verification off (see System.Proxy.UpstreamCaFile).",
  },
  VEC_UPSTREAM_TIMEOUT: {
    status: 504,
    title: 'Upstream timeout',
    message: 'The upstream did not answer within System.Proxy.UpstreamTimeoutSeconds.',
  },
  VEC_CLIENT_CLOSED: {
    status: 499,
    title: 'Client closed request',
    message: 'The client closed its connection before the answer; the upstream call was given up.',
  },
  VEC_PIPELINE_STAGE_FAILED: {
    status: 500,
    title: 'Gateway stage failed',
    message: 'A pipeline stage failed or timed out; the request was refused (fail closed).',
  },
  VEC_RATE_LIMITED: {
    status: 429,
    title: 'Rate limited',
    message: 'Too many requests for this agent; retry after Retry-After seconds.',
  },
  VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND: {
    status: 404,
    title: 'Rate-limit override not found',
    message:
      'No rate-limit override was set through the API for that name; see GET /v1/rate-limits.',
  },
  VEC_CIRCUIT_OPEN: {
    status: 503,
    title: 'Upstream circuit open',
    message:
      'The upstream failed repeatedly; Vectra stops sending to it for a while. Retry after Retry-After seconds.',
  },
  VEC_POLICY_DENIED: {
    status: 403,
    title: 'Denied by policy',
    message: 'A policy denies this request; the reason says which rule.',
  },
  VEC_POLICY_BODY_UNREADABLE: {
    status: 400,
    title: 'Request body cannot be judged',
    message:
      'A policy judges this request by its body, and the body is not JSON (400) or is larger than Policy.MaxBodyBytes (413); send a smaller JSON body.',
  },
  VEC_POLICY_UNAVAILABLE: {
    status: 503,
    title: 'Policy engine unavailable',
    message:
      'The policy engine could not decide (OPA down, undefined decision, timeout); the request is refused (fail closed).',
  },
  VEC_POLICY_INVALID: {
    status: 400,
    title: 'Invalid policy',
    message:
      'A policy file or document is invalid; the message names the file, the field and the problem.',
  },
  VEC_APPROVAL_REQUIRED: {
    status: 403,
    title: 'Approval required',
    message:
      "This request needs a human's approval (policy effect Hitl or risk at or above the threshold).",
  },
  VEC_APPROVAL_PENDING: {
    status: 403,
    title: 'Approval pending',
    message:
      'A human must approve this call; retry the same request after approval (see approvalId).',
  },
  VEC_APPROVAL_DENIED: {
    status: 403,
    title: 'Approval denied',
    message: 'A human denied this request; do not retry it unchanged.',
  },
  VEC_APPROVAL_EXPIRED: {
    status: 403,
    title: 'Approval expired',
    message: 'No one decided on this request in time; send it again to ask anew.',
  },
  VEC_APPROVAL_QUEUE_FULL: {
    status: 429,
    title: 'Approval queue full',
    message:
      'Too many of your requests already wait for a human (HumanInTheLoop.MaxPendingPerAgent); retry once some are decided.',
  },
  VEC_APPROVAL_NOT_FOUND: {
    status: 404,
    title: 'Approval not found',
    message: 'No approval has this id.',
  },
  VEC_APPROVAL_DECIDED: {
    status: 409,
    title: 'Approval already decided',
    message: 'This approval was already decided or has expired; it cannot be decided again.',
  },
  VEC_CLI_UNREACHABLE: {
    status: 503,
    title: 'Gateway unreachable',
    message: 'The gateway did not answer; check --addr and that `vectra serve` runs.',
  },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: string;
  code: ErrorCode;
  message: string;
  statusCode: number;
  [context: string]: unknown;
}

/** A refusal or fault with a stable code. `context` fields are added to the wire body. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { context?: Record<string, unknown>; cause?: unknown; statusCode?: number } = {},
  ) {
    const definition = ERROR_CODES[code];
    super(message ?? definition.message, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.statusCode = options.statusCode ?? definition.status;
    this.context = Object.freeze({ ...options.context });
  }

  toJSON(): ErrorBody {
    return {
      ...this.context,
      error: ERROR_CODES[this.code].title,
      code: this.code,
      message: this.message,
      statusCode: this.statusCode,
    };
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

/** One problem in the configuration, as listed when start-up stops. */
export interface ConfigProblem {
  /** Dotted key, e.g. `System.RateLimit.DefaultRequestsPerMinute`. */
  key: string;
  /** The environment variable that sets the key, e.g. `System__RateLimit__DefaultRequestsPerMinute`. */
  envVar: string;
  /** Where the bad value came from: `default`, a file path, `env`, or `flag`. */
  source: string;
  /** The offending value, masked when the key is secret; undefined for unknown keys without one. */
  value?: string;
  /** What is allowed. */
  message: string;
}

/** Start-up stops with exit code 2 and every problem listed. */
export class ConfigError extends GatewayError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super('VEC_CONFIG_INVALID', formatProblems(problems), { context: { problems } });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function formatProblems(problems: ConfigProblem[]): string {
  const lines = problems.map((p) => {
    const value =
      p.value === undefined ? '' : ` (value ${JSON.stringify(p.value)} from ${p.source})`;
    return `  - ${p.key} [env ${p.envVar}]${value}: ${p.message}`;
  });
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return `invalid configuration, ${problems.length} ${noun}:\n${lines.join('\n')}`;
}

/** Exit codes of the `vectra` CLI (documented in docs/cli.md). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  CONFIG_OR_USAGE: 2,
} as const;
