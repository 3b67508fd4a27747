/**
 * Circuit breakers end to end: a real upstream on 127.0.0.1 port 0, the real upstream client
 * (SSRF guard with NetworkAllowlist 127.0.0.0/8) wrapped by createBreakingUpstream, the
 * circuitBreaker and forward stages in the runner, and the API app serving `/proxy/<url>`,
 * `/health` and `/metrics`, driven with fetch.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CircuitBreakerConfig, ProxyConfig } from '../../src/config/schema';
import { createBreakingUpstream } from '../../src/guards/breaking-upstream';
import { circuitHealthCheck } from '../../src/guards/circuit-health';
import {
  createCircuitBreakers,
  type CircuitBreakers,
  type CircuitState,
} from '../../src/guards/circuit-breaker';
import { createMetrics } from '../../src/observability/metrics';
import { silentLogger } from '../../src/observability/types';
import { createPipeline } from '../../src/pipeline/runner';
import { createCircuitBreakerStage } from '../../src/pipeline/stages/circuit-breaker';
import { createForwardStage } from '../../src/pipeline/stages/forward';
import { createUpstreamClient, type UpstreamClientDeps } from '../../src/proxy/upstream';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { createApiApp } from '../../src/server/app';
import { HealthService } from '../../src/observability/health';
import { reverseRoute } from '../../src/server/reverse-route';
import { testConfig } from '../helpers/gateway';

const PROXY: ProxyConfig = { ...testConfig().System.Proxy, NetworkAllowlist: '127.0.0.0/8' };
const BREAKER: CircuitBreakerConfig = {
  FailureThreshold: 3,
  WindowSeconds: 60,
  ResetTimeoutSeconds: 1,
  ErrorPercentage: 0,
  Scope: 'VaultOrigin',
};

const servers: Server[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** An upstream whose answer to every path is `status` (settable); `/hang` never answers. */
async function startUpstream() {
  const state = { status: 503, requests: 0 };
  const port = await listen(
    createServer((req, res) => {
      state.requests++;
      if (req.url === '/hang') return;
      res.writeHead(state.status, { 'content-type': 'text/plain' }).end(`status ${state.status}`);
    }),
  );
  return { state, url: `http://127.0.0.1:${port}` };
}

/** The gateway's pieces around the breakers; `deps` go to the real upstream client. */
async function startGateway(deps: UpstreamClientDeps = {}) {
  const metrics = createMetrics();
  const breakers: CircuitBreakers = createCircuitBreakers(BREAKER, {
    logger: silentLogger,
    registry: metrics.registry,
  });
  const upstream: UpstreamClient = createBreakingUpstream(
    createUpstreamClient(PROXY, { logger: silentLogger, ...deps }),
    breakers,
  );
  cleanups.push(
    () => breakers.close(),
    () => upstream.close(),
  );
  const pipeline = createPipeline(
    [createCircuitBreakerStage({}, { breakers }), createForwardStage({}, { upstream })],
    { logger: silentLogger },
  );
  const health = new HealthService();
  health.register(circuitHealthCheck(breakers));
  const app = createApiApp({
    logger: silentLogger,
    metrics,
    health,
    maxBodyBytes: 1_000_000,
    rawRouters: [{ path: '/proxy', router: reverseRoute({ pipeline, logger: silentLogger }) }],
  });
  const base = `http://127.0.0.1:${await listen(createServer(app))}`;
  return {
    breakers,
    proxy: (url: string) => fetch(`${base}/proxy/${url}`),
    health: async () => (await fetch(`${base}/health`)).json() as Promise<any>,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
  };
}

/** Status and X-Vectra-Error of `count` requests in a row. */
async function statuses(send: () => Promise<Response>, count: number) {
  const results: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await send();
    await res.arrayBuffer();
    results.push(`${res.status} ${res.headers.get('x-vectra-error') ?? 'upstream'}`);
  }
  return results;
}

function stateChange(breakers: CircuitBreakers, wanted: CircuitState): Promise<string> {
  return new Promise((resolve) => {
    const stop = breakers.onStateChange((origin, state) => {
      if (state !== wanted) return;
      stop();
      resolve(origin);
    });
  });
}

describe('circuit breaker through the /proxy route', () => {
  it('opens after FailureThreshold 5xx answers, refuses with 503 VEC_CIRCUIT_OPEN, probes and closes', async () => {
    const upstream = await startUpstream();
    const gateway = await startGateway();
    const origin = upstream.url;
    const send = () => gateway.proxy(`${upstream.url}/items`);

    // 4xx answers are the upstream working: they never open the circuit.
    upstream.state.status = 404;
    expect(await statuses(send, 4)).toEqual(Array(4).fill('404 upstream'));

    upstream.state.status = 503;
    expect(await statuses(send, 3)).toEqual(Array(3).fill('503 upstream'));
    const seen = upstream.state.requests;

    const refused = await send();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('x-vectra-error')).toBe('VEC_CIRCUIT_OPEN');
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = (await refused.json()) as any;
    expect(body).toMatchObject({
      code: 'VEC_CIRCUIT_OPEN',
      statusCode: 503,
      origin,
      retryAfter: 1,
    });
    expect(body.message).toContain(`The circuit for ${origin} is open (3 failures within 60 s`);
    expect(upstream.state.requests).toBe(seen); // nothing reached the upstream

    expect(await gateway.health()).toMatchObject({
      status: 'Degraded',
      checks: {
        circuitBreakers: { status: 'Degraded', description: `circuit open for ${origin}` },
      },
    });
    const metrics = await gateway.metrics();
    expect(metrics).toContain(`vectra_circuit_state{origin="${origin}"} 2`);
    expect(metrics).toContain(`vectra_circuit_opens_total{origin="${origin}"} 1`);

    // After ResetTimeoutSeconds the next request is the probe; its success closes the circuit.
    await stateChange(gateway.breakers, 'halfOpen');
    expect(await gateway.metrics()).toContain(`vectra_circuit_state{origin="${origin}"} 1`);
    upstream.state.status = 200;
    expect(await statuses(send, 2)).toEqual(['200 upstream', '200 upstream']);
    expect(await gateway.health()).toMatchObject({ status: 'Healthy' });
    expect(await gateway.metrics()).toContain(`vectra_circuit_state{origin="${origin}"} 0`);
  });

  it('a failed probe re-opens the circuit', async () => {
    const upstream = await startUpstream();
    const gateway = await startGateway();
    const send = () => gateway.proxy(`${upstream.url}/items`);
    await statuses(send, 3);
    await stateChange(gateway.breakers, 'halfOpen');
    expect(await statuses(send, 2)).toEqual(['503 upstream', '503 VEC_CIRCUIT_OPEN']);
    expect(await gateway.metrics()).toContain(
      `vectra_circuit_opens_total{origin="${upstream.url}"} 2`,
    );
  });

  it('counts refused connections, and keeps other origins apart', async () => {
    const upstream = await startUpstream();
    upstream.state.status = 200;
    const closedPort = await listen(createServer());
    servers.pop()!.close();
    const gateway = await startGateway();
    const dead = () => gateway.proxy(`http://127.0.0.1:${closedPort}/x`);
    expect(await statuses(dead, 4)).toEqual([
      '502 VEC_UPSTREAM_UNREACHABLE',
      '502 VEC_UPSTREAM_UNREACHABLE',
      '502 VEC_UPSTREAM_UNREACHABLE',
      '503 VEC_CIRCUIT_OPEN',
    ]);
    expect(await statuses(() => gateway.proxy(`${upstream.url}/x`), 2)).toEqual([
      '200 upstream',
      '200 upstream',
    ]);
    expect((await gateway.health()).checks.circuitBreakers.data).toEqual({
      open: [`http://127.0.0.1:${closedPort}`],
      halfOpen: [],
    });
  });

  it('counts upstream timeouts', async () => {
    const upstream = await startUpstream();
    // The response-head timeout fires after 50 ms instead of System.Proxy.UpstreamTimeoutSeconds.
    const gateway = await startGateway({
      setTimer: (fire) => {
        const timer = setTimeout(fire, 50);
        return () => clearTimeout(timer);
      },
    });
    expect(await statuses(() => gateway.proxy(`${upstream.url}/hang`), 4)).toEqual([
      '504 VEC_UPSTREAM_TIMEOUT',
      '504 VEC_UPSTREAM_TIMEOUT',
      '504 VEC_UPSTREAM_TIMEOUT',
      '503 VEC_CIRCUIT_OPEN',
    ]);
  });

  it("never opens on Vectra's own refusals (SSRF guard)", async () => {
    const gateway = await startGateway();
    // 10.0.0.0/8 is private and not allow-listed: refused before anything is dialled.
    expect(await statuses(() => gateway.proxy('http://10.1.2.3:8080/x'), 5)).toEqual(
      Array(5).fill('403 VEC_UPSTREAM_BLOCKED'),
    );
    expect(gateway.breakers.snapshot()).toEqual([
      { origin: 'http://10.1.2.3:8080', state: 'closed', failures: 0, requests: 5 },
    ]);
  });
});
