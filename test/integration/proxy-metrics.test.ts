/**
 * The proxied-request metrics through the real gateway: known requests on every entry point
 * (absolute-form, CONNECT tunnel, /proxy/), then /metrics scraped and read for exact values of
 * the expected label sets; the vault label collapsed by configuration; leaf certificates from
 * the cache or minted; tunnels open; approvals pending as they are created and decided.
 */
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway, GatewayOptions } from '../../src/gateway';
import { json, startTestGateway, upstreamAndGateways } from '../helpers/gateway';
import { basicProxyAuth, openTunnel } from '../helpers/raw-http';
import { policyDocument, rule, when } from '../helpers/policy-documents';
import { scrape, sumOf, valueOf, type Sample } from '../helpers/metrics';
import type { TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';
import { recordingLogger, waitFor } from '../helpers/waiting-and-processes';

const POLICY = policyDocument('metrics', 'Allow', [
  rule('no-forbidden', 'Deny', 'Nothing under /forbidden', [
    when('path', 'startsWith', '/forbidden'),
  ]),
  rule('review', 'Hitl', 'A human reviews /review', [when('path', 'startsWith', '/review')]),
]);

const REQUESTS = 'vectra_proxy_requests_total';

interface Setup {
  gateway: Gateway;
  token: string;
  proxyPort: number;
  ca: string;
}

async function setUp(
  upstream: TestUpstream,
  env: NodeJS.ProcessEnv = {},
  options: GatewayOptions = {},
): Promise<Setup> {
  const policies = tempDir('vectra-metrics-policies-');
  writeFileSync(join(policies, 'metrics.json'), JSON.stringify(POLICY));
  const gateway = await startTestGateway(
    {
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__Providers__Internal__Directory: policies,
      ...env,
    },
    options,
  );
  const { vaults } = gateway;
  await vaults.createVault({ name: 'shop', unmatchedHosts: 'passthrough' });
  await vaults.setCredential('shop', 'KEY', 'metrics-secret-value');
  await vaults.createService('shop', {
    name: 'plain',
    host: `localhost:${upstream.httpPort}`,
    scheme: 'http',
    auth: { type: 'bearer', credential: 'KEY' },
  });
  await vaults.createService('shop', {
    name: 'secure',
    host: `localhost:${upstream.httpsPort}`,
    auth: { type: 'bearer', credential: 'KEY' },
  });
  const { token } = await gateway.identity.createAgent({ name: 'bot', vaults: ['shop'] });
  const ca = await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text();
  return { gateway, token, proxyPort: Number(new URL(gateway.urls.proxy).port), ca };
}

/** An absolute-form request through the forward proxy; resolves with the status once read. */
function viaProxy(s: Setup, url: string, init: { method?: string; body?: string } = {}) {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: s.proxyPort,
        method: init.method ?? 'GET',
        path: url,
        headers: {
          host: new URL(url).host,
          'proxy-authorization': basicProxyAuth(s.token, 'shop'),
          connection: 'close',
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(init.body);
  });
}

/** Scrapes until the gateway has counted `total` proxied requests (each is counted as it ends). */
async function scrapeAfter(gateway: Gateway, total: number): Promise<Sample[]> {
  let samples: Sample[] = [];
  await waitFor(`${total} proxied requests counted`, async () => {
    samples = await scrape(gateway);
    return sumOf(samples, REQUESTS) >= total;
  });
  return samples;
}

describe('proxied-request metrics', () => {
  const { upstream, gateways } = upstreamAndGateways([]);

  it('counts every entry point and outcome with exact label sets', async () => {
    const s = await setUp(upstream);
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;

    expect(await viaProxy(s, `${plain}/ok`, { method: 'POST', body: 'hello world' })).toBe(200);
    expect(await viaProxy(s, `${plain}/forbidden`)).toBe(403);
    expect(await viaProxy(s, `${plain}/review`)).toBe(403);
    // Not a service of the vault: passed through, and labelled as one series.
    expect(await viaProxy(s, `http://127.0.0.1:${upstream.httpPort}/elsewhere`)).toBe(200);

    const tunnel = await openTunnel(
      s.proxyPort,
      `localhost:${upstream.httpsPort}`,
      basicProxyAuth(s.token, 'shop'),
      {
        ca: s.ca,
      },
    );
    const inTunnel = 'GET /ok HTTP/1.1\r\nHost: localhost:' + upstream.httpsPort + '\r\n\r\n';
    expect((await tunnel.request(inTunnel)).status).toBe(200);
    expect((await tunnel.request(inTunnel)).status).toBe(200);

    const reverse = await fetch(`${s.gateway.urls.http}/proxy/${plain}/ok`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    expect(reverse.status).toBe(200);
    await reverse.arrayBuffer();
    const stranger = await fetch(`${s.gateway.urls.http}/proxy/${plain}/ok`, {
      headers: { authorization: 'Bearer not-a-token' },
    });
    expect(stranger.status).toBe(401);
    await stranger.arrayBuffer();

    const samples = await scrapeAfter(s.gateway, 8);
    const count = (labels: Record<string, string>) => valueOf(samples, REQUESTS, labels);
    const shop = { vault: 'shop' };
    expect(
      count({ ...shop, service: 'plain', decision: 'allow', code: 'none', entry: 'forward' }),
    ).toBe(1);
    expect(
      count({
        ...shop,
        service: 'plain',
        decision: 'deny',
        code: 'VEC_POLICY_DENIED',
        entry: 'forward',
      }),
    ).toBe(1);
    expect(
      count({
        ...shop,
        service: 'plain',
        decision: 'hitl',
        code: 'VEC_APPROVAL_PENDING',
        entry: 'forward',
      }),
    ).toBe(1);
    expect(
      count({ ...shop, service: '(unmatched)', decision: 'allow', code: 'none', entry: 'forward' }),
    ).toBe(1);
    expect(
      count({ ...shop, service: 'secure', decision: 'allow', code: 'none', entry: 'tunnel' }),
    ).toBe(2);
    expect(
      count({ ...shop, service: 'plain', decision: 'allow', code: 'none', entry: 'reverse' }),
    ).toBe(1);
    expect(
      count({
        vault: '(none)',
        service: '(none)',
        decision: 'deny',
        code: 'VEC_AUTH_TOKEN_REJECTED',
        entry: 'reverse',
      }),
    ).toBe(1);
    expect(sumOf(samples, REQUESTS)).toBe(8);

    // Upstream time only where an upstream answered; the gateway's own share for every decision.
    const upstreamCount = (service: string) =>
      valueOf(samples, 'vectra_proxy_upstream_duration_seconds_count', { vault: 'shop', service });
    expect(upstreamCount('plain')).toBe(2);
    expect(upstreamCount('secure')).toBe(2);
    expect(upstreamCount('(unmatched)')).toBe(1);
    expect(valueOf(samples, 'vectra_proxy_added_duration_seconds_count')).toBe(8);
    expect(valueOf(samples, 'vectra_proxy_bytes_total', { direction: 'in' })).toBe(11);
    expect(valueOf(samples, 'vectra_proxy_bytes_total', { direction: 'out' })).toBeGreaterThan(0);
    // Seven requests reached the policy stage (the stranger was refused before it).
    expect(valueOf(samples, 'vectra_policy_evaluation_seconds_count')).toBeGreaterThanOrEqual(7);
    // The audit log's counters are on the served registry.
    expect(valueOf(samples, 'vectra_audit_rows_recorded_total')).toBeGreaterThanOrEqual(8);
    expect(samples.some((x) => x.name === 'vectra_audit_rows_dropped_total')).toBe(true);
    tunnel.socket.destroy();
  });

  it('counts leaf certificates from the cache and minted, and tunnels while they are open', async () => {
    const s = await setUp(upstream);
    gateways.push(s.gateway);
    const authority = `localhost:${upstream.httpsPort}`;
    const auth = basicProxyAuth(s.token, 'shop');
    const first = await openTunnel(s.proxyPort, authority, auth, { ca: s.ca });
    const second = await openTunnel(s.proxyPort, authority, auth, { ca: s.ca });
    let samples = await scrape(s.gateway);
    expect(valueOf(samples, 'vectra_leaf_certificates_total', { source: 'minted' })).toBe(1);
    expect(valueOf(samples, 'vectra_leaf_certificates_total', { source: 'cache' })).toBe(1);
    expect(valueOf(samples, 'vectra_proxy_tunnels_open')).toBe(2);

    first.socket.destroy();
    second.socket.destroy();
    await waitFor('the tunnels to close', async () => {
      samples = await scrape(s.gateway);
      return valueOf(samples, 'vectra_proxy_tunnels_open') === 0;
    });
    expect(valueOf(samples, 'vectra_proxy_tunnels_open')).toBe(0);
  });

  it('follows pending approvals as they are created and approved', async () => {
    const s = await setUp(upstream);
    gateways.push(s.gateway);
    const approver = (
      await s.gateway.identity.createAdminToken({ name: 'alice', role: 'approver' })
    ).token;
    const pendingNow = async () => valueOf(await scrape(s.gateway), 'vectra_approvals_pending');
    expect(await pendingNow()).toBe(0);

    const plain = `http://localhost:${upstream.httpPort}`;
    expect(await viaProxy(s, `${plain}/review/1`)).toBe(403);
    expect(await viaProxy(s, `${plain}/review/2`)).toBe(403);
    expect(await pendingNow()).toBe(2);

    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${s.gateway.urls.http}${path}`, {
        method,
        headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const { approvals } = await json(await api('GET', '/v1/approvals?status=pending'));
    expect(approvals).toHaveLength(2);
    const approved = await api('POST', `/v1/approvals/${approvals[0].id}/approve`, {
      scope: 'once',
    });
    expect(approved.status).toBe(200);
    expect(await pendingNow()).toBe(1);
  });

  it('puts `*` in the vault label when LabelVault is false', async () => {
    const s = await setUp(upstream, { Observability__Metrics__LabelVault: 'false' });
    gateways.push(s.gateway);
    expect(await viaProxy(s, `http://localhost:${upstream.httpPort}/ok`)).toBe(200);
    const samples = await scrapeAfter(s.gateway, 1);
    expect(
      valueOf(samples, REQUESTS, { vault: '*', service: 'plain', decision: 'allow', code: 'none' }),
    ).toBe(1);
    expect(sumOf(samples, REQUESTS, { vault: 'shop' })).toBe(0);
    expect(
      valueOf(samples, 'vectra_proxy_upstream_duration_seconds_count', {
        vault: '*',
        service: 'plain',
      }),
    ).toBe(1);
  });

  it('logs each refusal once at Information, with the fields its metric labels name', async () => {
    const logger = recordingLogger();
    const s = await setUp(upstream, {}, { logger });
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    expect(await viaProxy(s, `${plain}/forbidden/x`)).toBe(403);
    expect(await viaProxy(s, `${plain}/review/x`)).toBe(403);
    const samples = await scrapeAfter(s.gateway, 2);

    const refusals = logger.lines.filter((line) => line.message.startsWith('request refused'));
    expect(refusals).toHaveLength(2);
    const labels = ['vault', 'service', 'decision', 'code', 'entry'];
    for (const line of refusals) {
      expect(line.level).toBe('info');
      const fields = Object.fromEntries(labels.map((name) => [name, line.meta[name]]));
      // The log line names the very series the request was counted in.
      expect(valueOf(samples, REQUESTS, fields as Record<string, string>)).toBe(1);
    }
    expect(refusals.map((line) => line.meta)).toEqual([
      expect.objectContaining({
        vault: 'shop',
        service: 'plain',
        decision: 'deny',
        code: 'VEC_POLICY_DENIED',
        entry: 'forward',
        stage: 'policy',
        status: 403,
      }),
      expect.objectContaining({
        vault: 'shop',
        service: 'plain',
        decision: 'hitl',
        code: 'VEC_APPROVAL_PENDING',
        entry: 'forward',
        stage: 'approval',
      }),
    ]);
  });

  it('serves no /metrics and records nothing when metrics are disabled', async () => {
    const s = await setUp(upstream, { Observability__Metrics__Enabled: 'false' });
    gateways.push(s.gateway);
    expect(await viaProxy(s, `http://localhost:${upstream.httpPort}/ok`)).toBe(200);
    expect((await fetch(`${s.gateway.urls.http}/metrics`)).status).toBe(404);
  });
});
