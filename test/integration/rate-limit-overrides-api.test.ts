/**
 * Rate-limit overrides on a real gateway: from the configuration keys and through
 * `/v1/rate-limits`, enforced by the proxy (429 VEC_RATE_LIMITED after that many requests),
 * with roles, input checks and the revert to a configured value.
 */
import { randomBytes } from 'node:crypto';
import type { Gateway } from '../../src/gateway';
import { json, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const ownerToken = () => `vec_adm_${randomBytes(32).toString('base64url')}`;

function admin(gateway: Gateway, token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gateway.urls.http}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

describe('rate-limit overrides through the admin API and the proxy', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  const owner = ownerToken();
  let asOwner: ReturnType<typeof admin>;
  let asAuditor: ReturnType<typeof admin>;

  /**
   * An agent in vault `limits`, and a function sending one request through the reverse proxy:
   * to `localhost` (the vault's service `local`) or to 127.0.0.1 (no service; passed through).
   */
  async function agent(name: string) {
    const { token } = await gateway.identity.createAgent({ name, vaults: ['limits'] });
    return (to: 'service' | 'no service', path = '/') => {
      const base =
        to === 'service' ? upstream.httpUrl : upstream.httpUrl.replace('localhost', '127.0.0.1');
      return fetch(`${gateway.urls.http}/proxy/${base}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
    };
  }

  /** Status codes of `count` requests sent one after another. */
  async function statuses(send: () => Promise<Response>, count: number): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < count; i++) {
      const res = await send();
      await res.arrayBuffer();
      result.push(res.status);
    }
    return result;
  }

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startTestGateway({
      Security__Admin__BootstrapToken: owner,
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__RateLimit__DefaultRequestsPerMinute: '50',
      System__RateLimit__Burst: '0',
      System__RateLimit__AgentOverrides: 'configured-bot=2,reverting-bot=3',
      System__RateLimit__ServiceOverrides: 'limits/local=40',
    });
    await gateway.vaults.createVault({ name: 'limits', unmatchedHosts: 'passthrough' });
    await gateway.vaults.createService('limits', {
      name: 'local',
      host: `localhost:${upstream.httpPort}`,
      scheme: 'http',
      auth: { type: 'passthrough' },
    });
    asOwner = admin(gateway, owner);
    const auditor = await asOwner('POST', '/v1/admin-tokens', { name: 'aud', role: 'auditor' });
    asAuditor = admin(gateway, auditor.body.token);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('lists the default and the configured overrides', async () => {
    const listed = await asAuditor('GET', '/v1/rate-limits');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      default: { requestsPerMinute: 50, burst: 0, windowSeconds: 60 },
      overrides: [
        { tier: 'agents', name: 'configured-bot', requestsPerMinute: 2, source: 'config' },
        { tier: 'agents', name: 'reverting-bot', requestsPerMinute: 3, source: 'config' },
        { tier: 'services', name: 'limits/local', requestsPerMinute: 40, source: 'config' },
      ],
    });
  });

  it('configured overrides take effect: agent (2) off a service, service (40) on it', async () => {
    const send = await agent('configured-bot');
    expect(await statuses(() => send('no service'), 3)).toEqual([200, 200, 429]);
    // The service override is more specific than the agent's, and counts on its own.
    const onService = await send('service');
    expect(onService.status).toBe(200);
    expect(onService.headers.get('ratelimit-limit')).toBe('40');
  });

  it('PUT an agent override: the proxy answers 429 VEC_RATE_LIMITED after that many requests', async () => {
    const send = await agent('tiny-bot');
    const put = await asOwner('PUT', '/v1/rate-limits/agents/tiny-bot', { requestsPerMinute: 3 });
    expect(put.status).toBe(200);
    expect(put.body.override).toEqual({
      tier: 'agents',
      name: 'tiny-bot',
      requestsPerMinute: 3,
      source: 'api',
      updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const first = await send('no service');
    expect(first.headers.get('ratelimit-limit')).toBe('3'); // not the default 50
    await first.arrayBuffer();
    expect(await statuses(() => send('no service'), 2)).toEqual([200, 200]);
    const limited = await send('no service');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-vectra-error')).toBe('VEC_RATE_LIMITED');
    expect(await json(limited)).toMatchObject({ code: 'VEC_RATE_LIMITED', tier: 'agent' });
  });

  it('an API override wins over the configured one; DELETE reverts to the configured value', async () => {
    const put = await asOwner('PUT', '/v1/rate-limits/agents/reverting-bot', {
      requestsPerMinute: 7,
    });
    expect(put.body.override).toMatchObject({
      requestsPerMinute: 7,
      source: 'api',
      configuredRequestsPerMinute: 3,
    });
    let listed = (await asOwner('GET', '/v1/rate-limits')).body.overrides;
    expect(listed.filter((o: { name: string }) => o.name === 'reverting-bot')).toEqual([
      expect.objectContaining({ requestsPerMinute: 7, source: 'api' }),
    ]);
    expect((await asOwner('DELETE', '/v1/rate-limits/agents/reverting-bot')).status).toBe(204);
    listed = (await asOwner('GET', '/v1/rate-limits')).body.overrides;
    expect(listed.filter((o: { name: string }) => o.name === 'reverting-bot')).toEqual([
      { tier: 'agents', name: 'reverting-bot', requestsPerMinute: 3, source: 'config' },
    ]);
    // Once more: nothing set through the API, and the message says the configured value stays.
    const again = await asOwner('DELETE', '/v1/rate-limits/agents/reverting-bot');
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND');
    expect(again.body.message).toContain(
      'the configured value (System.RateLimit.AgentOverrides: 3 per minute) remains in effect',
    );
    const unknown = await asOwner('DELETE', '/v1/rate-limits/vaults/nowhere');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND');
  });

  it('a service override named <vault>/<service> is sent with %2F and applies to that service', async () => {
    const put = await asOwner('PUT', '/v1/rate-limits/services/limits%2Flocal', {
      requestsPerMinute: 1,
    });
    expect(put.status).toBe(200);
    expect(put.body.override).toMatchObject({ name: 'limits/local', source: 'api' });
    const send = await agent('service-bot');
    const first = await send('service', '/svc');
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('1');
    const second = await send('service', '/svc');
    expect(second.status).toBe(429);
    expect(await json(second)).toMatchObject({ code: 'VEC_RATE_LIMITED', tier: 'service' });
    expect((await asOwner('DELETE', '/v1/rate-limits/services/limits%2Flocal')).status).toBe(204);
  });

  it('only owners may change overrides; every admin role may read them', async () => {
    expect((await asAuditor('GET', '/v1/rate-limits')).status).toBe(200);
    const put = await asAuditor('PUT', '/v1/rate-limits/agents/x', { requestsPerMinute: 5 });
    expect(put.status).toBe(403);
    expect(put.body.code).toBe('VEC_AUTH_FORBIDDEN');
    const del = await asAuditor('DELETE', '/v1/rate-limits/agents/configured-bot');
    expect(del.status).toBe(403);
    const anonymous = await fetch(`${gateway.urls.http}/v1/rate-limits`);
    expect(anonymous.status).toBe(401);
  });

  it.each([
    ['a bad tier', '/v1/rate-limits/users/x', { requestsPerMinute: 5 }, 'tier'],
    ['a non-integer', '/v1/rate-limits/agents/x', { requestsPerMinute: 2.5 }, 'requestsPerMinute'],
    ['a negative rate', '/v1/rate-limits/agents/x', { requestsPerMinute: -1 }, 'requestsPerMinute'],
    ['zero', '/v1/rate-limits/agents/x', { requestsPerMinute: 0 }, 'requestsPerMinute'],
    ['a string rate', '/v1/rate-limits/agents/x', { requestsPerMinute: '5' }, 'requestsPerMinute'],
    ['no rate', '/v1/rate-limits/agents/x', {}, 'requestsPerMinute'],
    ['a bad name', '/v1/rate-limits/agents/Not%20A%20Name', { requestsPerMinute: 5 }, 'name'],
    ['a slash in a vault name', '/v1/rate-limits/vaults/a%2Fb', { requestsPerMinute: 5 }, 'name'],
    ['three service parts', '/v1/rate-limits/services/a%2Fb%2Fc', { requestsPerMinute: 5 }, 'name'],
    ['a body that is no object', '/v1/rate-limits/agents/x', '[1]', 'body'],
  ])('refuses %s with 400 VEC_REQUEST_INVALID', async (_what, path, body, field) => {
    const answer = await asOwner('PUT', path, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field });
  });
});
