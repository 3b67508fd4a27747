import { GatewayError } from '../../src/errors';
import type { AgentPrincipal } from '../../src/identity/agent-auth';
import { testContext } from '../helpers/context';
import { createAuthenticateStage } from '../../src/pipeline/stages/authenticate';
import type { Decision, EntryPoint, RequestContext } from '../../src/pipeline/types';

const agent: AgentPrincipal = {
  kind: 'agent',
  agentId: 'a1',
  agentName: 'bot',
  vaults: ['default', 'prod'],
};
const session: AgentPrincipal = {
  kind: 'session',
  sessionId: 's1',
  agentName: null,
  vault: 'prod',
  expiresAt: '2999-01-01T00:00:00Z',
};

const tokens: Record<string, AgentPrincipal> = { vec_agt_good: agent, vec_sess_good: session };
const stage = createAuthenticateStage(
  {},
  {
    authenticator: {
      async authenticate(token) {
        if (token === 'vec_agt_broken') throw new GatewayError('VEC_STORAGE_UNAVAILABLE');
        const principal = tokens[token];
        if (!principal) throw new GatewayError('VEC_AUTH_TOKEN_REJECTED');
        return principal;
      },
    },
  },
);

const context = (entry: EntryPoint, credentials: { token?: string; vault?: string }) =>
  testContext({
    entry,
    credentials,
    ...(entry === 'tunnel' ? { tunnelAuthority: 'api.example.com:443' } : {}),
    request: {
      host: 'api.example.com',
      headers: { Authorization: 'Bearer vec_agt_good', accept: '*/*' },
    },
  });

const codeOf = (decision: Decision) => (decision.kind === 'deny' ? decision.error : undefined);

describe('authenticate stage', () => {
  it('is a named function', () => expect(stage.name).toBe('authenticate'));

  it('sets principal and vault, and consumes the credentials', async () => {
    const ctx = context('forward', { token: 'vec_agt_good', vault: 'prod' });
    expect(await stage(ctx)).toEqual({ kind: 'continue' });
    expect(ctx.principal).toBe(agent);
    expect(ctx.vault).toBe('prod');
    expect(ctx.credentials).toEqual({});
  });

  it("takes the session's vault, and the agent's only vault never by guessing", async () => {
    const ctx = context('tunnel', { token: 'vec_sess_good' });
    await stage(ctx);
    expect(ctx.vault).toBe('prod');
    const ambiguous = codeOf(await stage(context('forward', { token: 'vec_agt_good' })));
    expect(ambiguous?.code).toBe('VEC_REQUEST_INVALID');
  });

  it.each<[EntryPoint, string, number]>([
    ['forward', 'VEC_PROXY_AUTH_REQUIRED', 407],
    ['tunnel', 'VEC_PROXY_AUTH_REQUIRED', 407],
    ['reverse', 'VEC_AUTH_REQUIRED', 401],
  ])('no token on %s: %s (%i)', async (entry, code, status) => {
    const error = codeOf(await stage(context(entry, {})));
    expect(error).toMatchObject({ code, statusCode: status });
  });

  it.each<[EntryPoint, string, number]>([
    ['forward', 'VEC_PROXY_AUTH_REQUIRED', 407],
    ['tunnel', 'VEC_PROXY_AUTH_REQUIRED', 407],
    ['reverse', 'VEC_AUTH_TOKEN_REJECTED', 401],
  ])('rejected token on %s: %s (%i)', async (entry, code, status) => {
    const ctx = context(entry, { token: 'vec_agt_nope', vault: 'prod' });
    expect(codeOf(await stage(ctx))).toMatchObject({ code, statusCode: status });
    expect(ctx.credentials).toEqual({});
    expect(ctx.principal).toBeUndefined();
  });

  it('a vault the token does not hold is forbidden', async () => {
    const error = codeOf(await stage(context('forward', { token: 'vec_agt_good', vault: 'x' })));
    expect(error?.code).toBe('VEC_AUTH_FORBIDDEN');
  });

  it('a store outage is not reported as a bad token', async () => {
    await expect(stage(context('forward', { token: 'vec_agt_broken' }))).rejects.toMatchObject({
      code: 'VEC_STORAGE_UNAVAILABLE',
    });
  });

  it("removes the reverse route's Authorization (the agent token) from the request", async () => {
    const reverse: RequestContext = context('reverse', { token: 'vec_agt_good', vault: 'prod' });
    await stage(reverse);
    expect(reverse.request.headers).toEqual({ accept: '*/*' });
    const proxied = context('forward', { token: 'vec_agt_good', vault: 'prod' });
    await stage(proxied);
    expect(proxied.request.headers.Authorization).toBe('Bearer vec_agt_good');
  });

  it('refuses unknown options and a missing authenticator at construction', () => {
    expect(() =>
      createAuthenticateStage({ x: 1 } as never, { authenticator: {} as never }),
    ).toThrow(/authenticate: x is not an option/);
    expect(() => createAuthenticateStage({}, {} as never)).toThrow(/authenticator must provide/);
  });
});
