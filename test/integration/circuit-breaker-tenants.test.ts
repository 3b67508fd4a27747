/**
 * Circuit breakers keep tenants apart: through the real forward proxy (absolute-form HTTP), two
 * agents in two vaults call one failing loopback upstream. With System.CircuitBreaker.Scope
 * VaultOrigin (the default) agent A's failures open A's circuit only, and agent B is still
 * forwarded; with Scope Origin the circuit is the origin's, and B is refused as well.
 */
import { request } from 'node:http';
import type { Gateway } from '../../src/gateway';
import { startTestGateway, upstreamAndGateways } from '../helpers/gateway';
import { answerTo, basicProxyAuth, type ProxyAnswer } from '../helpers/raw-http';
import { failUnder, type TestUpstream } from '../helpers/upstream';

/** One plain-HTTP request through the forward proxy as `token` in `vault`. */
function viaProxy(
  gateway: Gateway,
  token: string,
  vault: string,
  url: string,
): Promise<ProxyAnswer> {
  const proxy = new URL(gateway.urls.proxy);
  const target = new URL(url);
  const req = request({
    host: proxy.hostname,
    port: proxy.port,
    method: 'GET',
    path: url,
    headers: {
      host: target.host,
      'proxy-authorization': basicProxyAuth(token, vault),
    },
  });
  return answerTo(req);
}

async function setUp(upstream: TestUpstream, env: NodeJS.ProcessEnv) {
  const gateway = await startTestGateway({
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    System__CircuitBreaker__FailureThreshold: '2',
    ...env,
  });
  const agents: Record<'a' | 'b', { token: string; vault: string }> = {} as never;
  for (const name of ['a', 'b'] as const) {
    const vault = `tenant-${name}`;
    await gateway.vaults.createVault({ name: vault });
    await gateway.vaults.setCredential(vault, 'KEY', `secret-of-${name}`);
    await gateway.vaults.createService(vault, {
      name: 'flaky',
      host: `localhost:${upstream.httpPort}`,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'KEY' },
    });
    const { token } = await gateway.identity.createAgent({ name: `bot-${name}`, vaults: [vault] });
    agents[name] = { token, vault };
  }
  const call = (name: 'a' | 'b', path: string) =>
    viaProxy(gateway, agents[name].token, agents[name].vault, `${upstream.httpUrl}${path}`);
  return { gateway, call };
}

describe('circuit breaker scope through the forward proxy', () => {
  const { upstream, gateways } = upstreamAndGateways([failUnder('/fail')]);

  it("VaultOrigin (default): agent A's failures open A's circuit, agent B in another vault is still forwarded", async () => {
    const { gateway, call } = await setUp(upstream, {});
    gateways.push(gateway);
    expect(await call('a', '/fail/1')).toEqual({ status: 503, code: undefined });
    expect(await call('a', '/fail/2')).toEqual({ status: 503, code: undefined });
    expect(await call('a', '/fail/3')).toEqual({ status: 503, code: 'VEC_CIRCUIT_OPEN' });

    expect(await call('b', '/ok')).toEqual({ status: 200, code: undefined });
    expect(upstream.received.map((r) => r.url)).toEqual(['/fail/1', '/fail/2', '/ok']);
    expect(upstream.received[2].headers.authorization).toBe('Bearer secret-of-b');

    // /health and /metrics name the vault of the open circuit.
    const health = (await (await fetch(`${gateway.urls.http}/health`)).json()) as any;
    const circuits = health.checks.circuitBreakers;
    expect(circuits.status).toBe('Degraded');
    expect(circuits.data.open).toEqual([`${upstream.httpUrl} (vault tenant-a)`]);
    const metrics = await (await fetch(`${gateway.urls.http}/metrics`)).text();
    expect(metrics).toMatch(/vectra_circuit_state\{[^}]*vault="tenant-a"[^}]*\} 2/);
    expect(metrics).toMatch(/vectra_circuit_state\{[^}]*vault="tenant-b"[^}]*\} 0/);
  });

  it('Origin: one circuit per origin, so agent B is refused with VEC_CIRCUIT_OPEN too', async () => {
    const { gateway, call } = await setUp(upstream, { System__CircuitBreaker__Scope: 'Origin' });
    gateways.push(gateway);
    expect(await call('a', '/fail/1')).toEqual({ status: 503, code: undefined });
    expect(await call('a', '/fail/2')).toEqual({ status: 503, code: undefined });
    expect(await call('b', '/ok')).toEqual({ status: 503, code: 'VEC_CIRCUIT_OPEN' });
    expect(upstream.received.map((r) => r.url)).toEqual(['/fail/1', '/fail/2']);
  });
});
