/**
 * A gateway for approval tests: the shipped policies (every write needs a human), loopback
 * allowed, the vault `writes` whose service `local` sends the credential `KEY` as a bearer token
 * to the test upstream, the agent of that vault, an approver and an auditor; with helpers that
 * call through the proxy as the agent and the admin API as the approver.
 */
import { join } from 'node:path';
import type { Gateway, GatewayOptions } from '../../src/gateway';
import { json, REPO_ROOT, startTestGateway, upstreamAndGateways } from './gateway';
import type { TestUpstream } from './upstream';
import { waitFor } from './waiting-and-processes';

export interface ApprovalGatewayOptions {
  /** Configuration over the defaults. */
  env?: NodeJS.ProcessEnv;
  /** false: the shipped network allowlist (the SSRF guard blocks loopback) unless `env` sets one. */
  allowLoopback?: boolean;
  gateway?: GatewayOptions;
  /** The value of the credential `KEY`. */
  secret?: string;
  /** The agent's name: `writer-bot` unless given. */
  agent?: string;
  /** The service reaches the upstream's HTTPS port (rather than plain HTTP). */
  https?: boolean;
  /** The content type `call` sends unless its init says otherwise: JSON unless given. */
  contentType?: string;
}

export interface ApprovalGateway {
  gateway: Gateway;
  agentToken: string;
  approver: string;
  auditor: string;
  /** `path` on the upstream through `/proxy/`, as the agent (or `token`). */
  call(path: string, init?: RequestInit, token?: string): Promise<Response>;
  /** The admin API, as the approver (or `token`), with `body` as JSON. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<Response>;
}

export async function startApprovalGateway(
  upstream: TestUpstream,
  options: ApprovalGatewayOptions = {},
): Promise<ApprovalGateway> {
  const gateway = await startTestGateway(
    {
      ...(options.allowLoopback === false
        ? {}
        : { System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128' }),
      Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
      ...options.env,
    },
    options.gateway,
  );
  await gateway.vaults.createVault({ name: 'writes' });
  await gateway.vaults.setCredential('writes', 'KEY', options.secret ?? 'approval-test-secret');
  await gateway.vaults.createService('writes', {
    name: 'local',
    ...(options.https
      ? { host: `localhost:${upstream.httpsPort}` }
      : { host: `localhost:${upstream.httpPort}`, scheme: 'http' }),
    auth: { type: 'bearer', credential: 'KEY' },
  });
  const agentToken = (
    await gateway.identity.createAgent({ name: options.agent ?? 'writer-bot', vaults: ['writes'] })
  ).token;
  const approver = (await gateway.identity.createAdminToken({ name: 'alice', role: 'approver' }))
    .token;
  const auditor = (await gateway.identity.createAdminToken({ name: 'audrey', role: 'auditor' }))
    .token;
  const upstreamUrl = options.https ? upstream.httpsUrl : upstream.httpUrl;
  const call = (path: string, init: RequestInit = {}, token = agentToken) =>
    fetch(`${gateway.urls.http}/proxy/${upstreamUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': options.contentType ?? 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });
  const api = (method: string, path: string, body?: unknown, token = approver) =>
    fetch(`${gateway.urls.http}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { gateway, agentToken, approver, auditor, call, api };
}

/**
 * For a describe block: one upstream (as `upstreamAndGateways`) and `start`, which starts an
 * approval gateway with `defaults`, `env` over their env, closed after the block.
 */
export function approvalGateways(defaults: ApprovalGatewayOptions = {}): {
  upstream: TestUpstream;
  start(env?: NodeJS.ProcessEnv, options?: ApprovalGatewayOptions): Promise<ApprovalGateway>;
} {
  const { upstream, gateways } = upstreamAndGateways([]);
  const start = async (env: NodeJS.ProcessEnv = {}, options: ApprovalGatewayOptions = {}) => {
    const s = await startApprovalGateway(upstream, {
      ...defaults,
      ...options,
      env: { ...defaults.env, ...options.env, ...env },
    });
    gateways.push(s.gateway);
    return s;
  };
  return { upstream, start };
}

/** `GET /v1/approvals{query}` as the approver: the approvals listed. */
export async function listApprovals(
  s: Pick<ApprovalGateway, 'api'>,
  query = '',
): Promise<Array<Record<string, any>>> {
  return (await json(await s.api('GET', `/v1/approvals${query}`))).approvals;
}

/** The ids of the pending approvals, once there are at least `count`. */
export async function waitForPending(
  s: Pick<ApprovalGateway, 'api'>,
  count = 1,
  timeoutMs?: number,
): Promise<string[]> {
  let ids: string[] = [];
  await waitFor(
    `${count} pending approvals`,
    async () => {
      ids = (await listApprovals(s, '?status=pending')).map((a) => a.id as string);
      return ids.length >= count;
    },
    timeoutMs,
  );
  return ids;
}

/** Approves `id` as the approver (scope `once` unless `body` says otherwise); expects 200. */
export async function approve(
  s: Pick<ApprovalGateway, 'api'>,
  id: string,
  body: unknown = { scope: 'once' },
): Promise<Response> {
  const answer = await s.api('POST', `/v1/approvals/${id}/approve`, body);
  expect(answer.status).toBe(200);
  return answer;
}

/** Expects `answer` to be VEC_APPROVAL_PENDING; returns the approval's id. */
export async function expectPending(answer: Response): Promise<string> {
  expect(answer.status).toBe(403);
  expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
  return (await json(answer)).approvalId as string;
}
