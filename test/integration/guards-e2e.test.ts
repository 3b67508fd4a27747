/**
 * Each guard's refusal through the real proxy: rate limit (429 + Retry-After + RateLimit-*),
 * circuit breaker (503 after upstream failures), policy (403 with the rule's reason), and the
 * approval gate (403 for a risky request). Nothing refused reaches the upstream.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  evaluatePolicy,
  json,
  localBearerVault,
  startTestGateway,
  upstreamAndGateways,
} from '../helpers/gateway';
import { policyDocument, rankedRule, when } from '../helpers/policy-documents';
import { failUnder, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

async function setUp(env: NodeJS.ProcessEnv, upstream: TestUpstream) {
  const gateway = await startTestGateway({
    System__Proxy__UpstreamCaFile: upstream.caFile,
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    ...env,
  });
  const token = await localBearerVault(gateway, upstream, 'guarded', 'guarded-bot');
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${gateway.urls.http}/proxy/${upstream.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
    });
  return { gateway, call };
}

const GUARD_RULES = [
  rankedRule(10, 'no-deletes', 'Deny', 'Deleting is not allowed here.', [
    when('request.method', 'eq', 'DELETE'),
  ]),
  rankedRule(5, 'exports-need-review', 'Hitl', 'Exports need a human.', [
    when('request.path', 'contains', '/export'),
  ]),
];

describe('guards through the proxy', () => {
  const { upstream, gateways } = upstreamAndGateways([failUnder('/fail')]);

  it('rate limit: 429 VEC_RATE_LIMITED with Retry-After and RateLimit-* headers', async () => {
    const { gateway, call } = await setUp(
      { System__RateLimit__DefaultRequestsPerMinute: '2', System__RateLimit__Burst: '0' },
      upstream,
    );
    gateways.push(gateway);
    const first = await call('/one');
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    await call('/two');
    const limited = await call('/three');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-vectra-error')).toBe('VEC_RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await json(limited)).code).toBe('VEC_RATE_LIMITED');
    expect(upstream.received.map((r) => r.url)).toEqual(['/one', '/two']);
  });

  it('circuit breaker: opens after the failure threshold and answers 503 VEC_CIRCUIT_OPEN', async () => {
    const { gateway, call } = await setUp(
      { System__CircuitBreaker__FailureThreshold: '2' },
      upstream,
    );
    gateways.push(gateway);
    expect((await call('/fail/1')).status).toBe(503);
    expect((await call('/fail/2')).status).toBe(503);
    const open = await call('/fail/3');
    expect(open.status).toBe(503);
    expect(open.headers.get('x-vectra-error')).toBe('VEC_CIRCUIT_OPEN');
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(upstream.received).toHaveLength(2);
    const health = await json(await fetch(`${gateway.urls.http}/health`));
    expect(health.status).toBe('Degraded');
  });

  it('approval: a risky request (DELETE /admin/users/all) is held with the explanation', async () => {
    const { gateway, call } = await setUp(
      { Semantic__Enabled: 'true', Policy__Enabled: 'false' },
      upstream,
    );
    gateways.push(gateway);
    expect((await call('/repos/x/y')).status).toBe(200);
    const held = await call('/admin/users/all', { method: 'DELETE' });
    expect(held.status).toBe(403);
    const body = await json(held);
    expect(body.code).toBe('VEC_APPROVAL_PENDING');
    expect(body.message).toMatch(/risk/i);
    expect(upstream.received.map((r) => r.url)).toEqual(['/repos/x/y']);

    // The dry run of the same request says the same, with the factors behind the score.
    const { token } = await gateway.identity.createAdminToken({ name: 'auditor', role: 'auditor' });
    const { body: answer } = await evaluatePolicy(gateway.urls.http, token, {
      agent: 'guarded-bot',
      vault: 'guarded',
      method: 'DELETE',
      url: `${upstream.httpUrl}/admin/users/all`,
    });
    expect(answer.risk).toMatchObject({ applied: true, score: 0.86 });
    expect(answer.approval).toEqual({ required: true, message: expect.any(String) });
    // The pending refusal quotes the dry run's sentence as its why.
    expect(body.message).toContain(answer.approval.message.replace(/\.$/, ''));
    expect(upstream.received.map((r) => r.url)).toEqual(['/repos/x/y']);
  });

  it('policy: a deny rule refuses with its reason, Hitl asks for approval', async () => {
    const dir = tempDir('vectra-policies-');
    writeFileSync(
      join(dir, 'guard.json'),
      JSON.stringify(policyDocument('guard', 'Allow', GUARD_RULES, { description: 'test policy' })),
    );
    const { gateway, call } = await setUp(
      { Policy__Providers__Internal__Directory: dir },
      upstream,
    );
    gateways.push(gateway);
    expect((await call('/items')).status).toBe(200);
    const denied = await call('/items/1', { method: 'DELETE' });
    expect(denied.status).toBe(403);
    expect(await json(denied)).toMatchObject({
      code: 'VEC_POLICY_DENIED',
      message: expect.stringContaining('Deleting is not allowed here'),
    });
    const held = await call('/export/all');
    expect(held.status).toBe(403);
    expect(await json(held)).toMatchObject({
      code: 'VEC_APPROVAL_PENDING',
      message: expect.stringContaining('Exports need a human'),
    });
    expect(upstream.received.map((r) => r.url)).toEqual(['/items']);
  });
});
