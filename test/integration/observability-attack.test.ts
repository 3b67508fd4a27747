/**
 * A malicious agent against the gateway's traces and metrics, through the real gateway and a
 * local OTLP receiver: malformed, duplicated and oversized `traceparent` / `tracestate` headers
 * (never a 5xx, never an invalid or agent-chosen context upstream while tracing is on, the
 * headers untouched while it is off), an agent that asks not to be sampled, secrets planted in
 * the vault, the agent's headers and its query (never in an export body nor in /metrics), and
 * 300 randomized requests that must not add a single agent-chosen label value to /metrics.
 */
import { randomBytes } from 'node:crypto';
import { ERROR_CODES } from '../../src/errors';
import { upstreamAndGateways } from '../helpers/gateway';
import { basicProxyAuth, connectTunnel, openTunnel, rawConnect } from '../helpers/raw-http';
import { scrape } from '../helpers/metrics';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver';
import type { TestUpstream } from '../helpers/upstream';
import {
  AGENT_SPAN,
  SERVER,
  startTracedGateway,
  TRACE_ID,
  type TracedGateway as Setup,
} from '../helpers/traced-gateway';

const CREDENTIAL = 'vault-credential-7f3a9c1e5b';
/** What the gateway must send upstream when tracing is on: its own span, sampled. */
const OWN_TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

function setUp(upstream: TestUpstream, env: NodeJS.ProcessEnv): Promise<Setup> {
  return startTracedGateway(upstream, env, {
    credential: CREDENTIAL,
    shopUnmatched: 'passthrough',
    otherVaults: ['closed'],
  });
}

/** One raw absolute-form request through the proxy with `extra` header lines; its status. */
async function rawProxy(s: Setup, url: string, extra: string, vault = 'shop'): Promise<number> {
  const conn = await rawConnect(s.proxyPort);
  try {
    const { status } = await conn.request(
      `GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\n` +
        `Proxy-Authorization: ${basicProxyAuth(s.token, vault)}\r\n${extra}Connection: close\r\n\r\n`,
    );
    return status;
  } catch {
    return 0; // closed without an answer
  } finally {
    conn.close();
  }
}

const rnd = (bytes = 6) => randomBytes(bytes).toString('hex');

/** Agent-chosen trace headers that are not a valid W3C context (each with a marker path). */
const MALFORMED: Array<[string, string]> = [
  ['version-ff', `traceparent: ff-${TRACE_ID}-${AGENT_SPAN}-01\r\n`],
  ['zero-trace', `traceparent: 00-${'0'.repeat(32)}-${AGENT_SPAN}-01\r\n`],
  ['zero-span', `traceparent: 00-${TRACE_ID}-${'0'.repeat(16)}-01\r\n`],
  ['upper-hex', `traceparent: 00-${TRACE_ID.toUpperCase()}-${AGENT_SPAN}-01\r\n`],
  ['extra-field', `traceparent: 00-${TRACE_ID}-${AGENT_SPAN}-01-extra\r\n`],
  ['short', `traceparent: 00-${TRACE_ID.slice(2)}-${AGENT_SPAN}-01\r\n`],
  ['garbage', `traceparent: <script>${'x'.repeat(2000)}\r\n`],
  [
    'duplicated',
    `traceparent: 00-${TRACE_ID}-${AGENT_SPAN}-01\r\ntraceparent: 00-${'a'.repeat(32)}-${'b'.repeat(16)}-01\r\n`,
  ],
  [
    'with-state',
    `traceparent: 00-${TRACE_ID.toUpperCase()}-${AGENT_SPAN}-01\r\ntracestate: agent=evil\r\n`,
  ],
  ['state-only', `tracestate: agent=evil,other=${'v'.repeat(200)}\r\n`],
];

describe('observability under attack', () => {
  const { upstream, gateways } = upstreamAndGateways([]);
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });
  const traced = () => ({
    Observability__Tracing__Enabled: 'true',
    Observability__Tracing__OtlpEndpoint: receiver.url,
  });
  const received = (path: string) => upstream.received.filter((r) => r.url === path);

  it('never forward an invalid or foreign trace context upstream when tracing is on', async () => {
    const s = await setUp(upstream, traced());
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    for (const [name, lines] of MALFORMED) {
      expect([name, await rawProxy(s, `${plain}/${name}`, lines)]).toEqual([name, 200]);
      const [got] = received(`/${name}`);
      expect([name, got.headers.traceparent]).toEqual([
        name,
        expect.stringMatching(OWN_TRACEPARENT),
      ]);
      expect(got.headers.traceparent).not.toContain(AGENT_SPAN);
      // A tracestate belongs to the traceparent it came with: none here is the gateway's trace.
      expect([name, got.headers.tracestate]).toEqual([name, undefined]);
    }
    // Inside a tunnel, the same.
    const tunnel = await openTunnel(
      s.proxyPort,
      `localhost:${upstream.httpsPort}`,
      basicProxyAuth(s.token, 'shop'),
      { ca: s.ca },
    );
    const answer = await tunnel.request(
      `GET /in-tunnel HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\n` +
        `traceparent: 00-${TRACE_ID}-${AGENT_SPAN}-01\r\ntraceparent: junk\r\ntracestate: a=b\r\n\r\n`,
    );
    expect(answer.status).toBe(200);
    tunnel.close();
    const [inside] = received('/in-tunnel');
    expect(inside.headers.traceparent).toMatch(OWN_TRACEPARENT);
    expect(inside.headers.tracestate).toBeUndefined();

    // A 10 KB tracestate with a valid traceparent: the agent's trace, not its oversized state.
    const big = Array.from({ length: 400 }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(',');
    expect(
      await rawProxy(
        s,
        `${plain}/big-state`,
        `traceparent: 00-${TRACE_ID}-${AGENT_SPAN}-01\r\ntracestate: ${big}\r\n`,
      ),
    ).toBe(200);
    const [bigState] = received('/big-state');
    expect(bigState.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    expect((bigState.headers.tracestate ?? '').length).toBeLessThanOrEqual(512);

    // Header smuggling: a bare CR or LF or a NUL in the value is a parser refusal, never a 5xx.
    for (const bad of ['traceparent: a\rX-Injected: 1\r\n', 'tracestate: a=b\0c\r\n']) {
      const status = await rawProxy(s, `${plain}/smuggle`, bad);
      expect(status === 0 || (status >= 400 && status < 500)).toBe(true);
    }
    expect(received('/smuggle')).toHaveLength(0);
    expect(upstream.received.some((r) => 'x-injected' in r.headers)).toBe(false);
    // Still serving.
    expect(await rawProxy(s, `${plain}/after`, '')).toBe(200);
    await s.gateway.close();
    const requests = receiver.spans.filter((span) => span.kind === SERVER);
    expect(requests.every((span) => span.statusCode !== 2)).toBe(true);
  });

  it('trace a request whose agent asks not to be sampled', async () => {
    const s = await setUp(upstream, traced());
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    const unsampled = `traceparent: 00-${TRACE_ID}-${AGENT_SPAN}-00\r\n`;
    expect(await rawProxy(s, `${plain}/unsampled`, unsampled)).toBe(200);
    expect(await rawProxy(s, `${plain}/forbidden/unsampled`, unsampled)).toBe(403);
    await s.gateway.close();
    const requests = receiver.spans.filter((span) => span.kind === SERVER);
    // The agent does not choose whether its requests (and its refusals) are traced.
    expect(requests.map((span) => span.attributes.decision).sort()).toEqual(['allow', 'deny']);
    expect(received('/unsampled')[0].headers.traceparent).toMatch(OWN_TRACEPARENT);
  });

  it('pass the trace headers through untouched when tracing is off', async () => {
    const s = await setUp(upstream, { Observability__Tracing__OtlpEndpoint: receiver.url });
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    const big = 'k=' + 'v'.repeat(10_000);
    const cases: Array<[string, string, string | undefined, string | undefined]> = [
      [
        'off-upper',
        `traceparent: 00-${TRACE_ID.toUpperCase()}-${AGENT_SPAN}-01\r\n`,
        `00-${TRACE_ID.toUpperCase()}-${AGENT_SPAN}-01`,
        undefined,
      ],
      ['off-dup', 'traceparent: a\r\ntraceparent: b\r\ntracestate: x=1\r\n', 'a, b', 'x=1'],
      ['off-big', `tracestate: ${big}\r\n`, undefined, big],
      [
        'off-zero',
        `traceparent: 00-${'0'.repeat(32)}-${AGENT_SPAN}-00\r\n`,
        `00-${'0'.repeat(32)}-${AGENT_SPAN}-00`,
        undefined,
      ],
    ];
    for (const [path, lines, parent, state] of cases) {
      expect(await rawProxy(s, `${plain}/${path}`, lines)).toBe(200);
      const [got] = received(`/${path}`);
      expect([path, got.headers.traceparent, got.headers.tracestate]).toEqual([
        path,
        parent,
        state,
      ]);
    }
    await s.gateway.close();
    expect(receiver.requests).toBe(0);
  });

  it('export no secret in any span, and none in /metrics', async () => {
    const s = await setUp(upstream, traced());
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    const agentSecret = `agent-secret-${rnd()}`;
    const querySecret = `query-secret-${rnd()}`;
    const lines =
      `Authorization: Bearer ${agentSecret}\r\nX-Api-Key: ${agentSecret}\r\n` +
      `Cookie: session=${agentSecret}\r\ntraceparent: 00-${TRACE_ID}-${AGENT_SPAN}-01\r\n`;
    const query = `?api_key=${querySecret}&token=${querySecret}&password=${querySecret}`;
    expect(await rawProxy(s, `${plain}/ok${query}`, lines)).toBe(200);
    expect(await rawProxy(s, `${plain}/forbidden${query}`, lines)).toBe(403);
    // A passthrough host and a refused vault, with the same.
    expect(await rawProxy(s, `http://127.0.0.1:${upstream.httpPort}/pass${query}`, lines)).toBe(
      200,
    );
    expect(await rawProxy(s, `${plain}/ok${query}`, lines, `no-such-${agentSecret}`)).toBe(403);
    const reverse = await fetch(`${s.gateway.urls.http}/proxy/${plain}/rev${query}`, {
      headers: {
        authorization: `Bearer ${s.token}`,
        'x-vault': 'shop',
        traceparent: `00-${TRACE_ID}-${AGENT_SPAN}-01`,
      },
    });
    expect(reverse.status).toBe(200);
    await reverse.arrayBuffer();
    // The upstream did get the credential: it was there to leak.
    expect(received('/ok' + query)[0].headers.authorization).toBe(`Bearer ${CREDENTIAL}`);
    const metrics = await (await fetch(`${s.gateway.urls.http}/metrics`)).text();
    await s.gateway.close();

    const exported = receiver.bodies.join('\n');
    expect(receiver.spans.filter((span) => span.kind === SERVER)).toHaveLength(5);
    for (const secret of [CREDENTIAL, s.token, agentSecret, querySecret, 'Bearer', 'api_key']) {
      expect([secret, exported.includes(secret)]).toEqual([secret, false]);
      expect([secret, metrics.includes(secret)]).toEqual([secret, false]);
    }
  });

  it('keep every metric label out of the agent hands over 300 randomized requests', async () => {
    const s = await setUp(upstream, traced());
    gateways.push(s.gateway);
    const planted: string[] = [];
    const mark = () => {
      const value = `z${rnd()}`;
      planted.push(value);
      return value;
    };
    const plain = `http://localhost:${upstream.httpPort}`;
    const methods = ['GET', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
    for (let i = 0; i < 300; i++) {
      const method = methods[i % methods.length];
      const path = `/${mark()}/${mark()}?${mark()}=${mark()}`;
      switch (i % 6) {
        case 0: // a configured service, random path and method
          await rawProxy(s, `${plain}${path}`, `X-Vault: ${mark()}\r\n`);
          break;
        case 1: // a random vault in Proxy-Authorization
          await rawProxy(s, `${plain}${path}`, '', mark());
          break;
        case 2: {
          // an unmatched loopback host on a closed port: passthrough, then a failed call
          const host = `127.${i % 250}.${(i * 7) % 250}.${1 + (i % 200)}:${1 + (i % 50)}`;
          await rawProxy(s, `http://${host}${path}`, '');
          break;
        }
        case 3: {
          // a random token and vault
          const conn = await rawConnect(s.proxyPort);
          await conn
            .request(
              `${method} ${plain}${path} HTTP/1.1\r\nHost: localhost\r\nProxy-Authorization: ` +
                `${basicProxyAuth(mark(), mark())}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
            )
            .catch(() => undefined);
          conn.close();
          break;
        }
        case 4: {
          // the reverse route: random X-Vault, random or real token
          const res = await fetch(`${s.gateway.urls.http}/proxy/${plain}${path}`, {
            method: method === 'HEAD' ? 'GET' : method,
            headers: {
              authorization: `Bearer ${i % 2 ? s.token : mark()}`,
              'x-vault': mark(),
            },
          });
          await res.arrayBuffer();
          break;
        }
        default: {
          // a tunnel to a random authority (refused) or to the configured one
          const authority = i % 2 ? `${mark()}.invalid:443` : `localhost:${upstream.httpsPort}`;
          await connectTunnel(s.proxyPort, authority, basicProxyAuth(s.token, mark()))
            .then((socket) => socket.destroy())
            .catch(() => undefined);
        }
      }
    }
    const samples = await scrape(s.gateway);
    await s.gateway.close();

    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) {
        expect(planted.some((p) => value.includes(p))).toBe(false);
      }
    }
    const series = samples.filter((sample) => sample.name === 'vectra_proxy_requests_total');
    const codes = new Set([...Object.keys(ERROR_CODES), 'none', 'other']);
    for (const { labels } of series) {
      expect(['shop', 'closed', '(none)']).toContain(labels.vault);
      expect(['plain', 'secure', '(unmatched)', '(none)']).toContain(labels.service);
      expect(['allow', 'deny', 'hitl', 'abort']).toContain(labels.decision);
      expect(codes.has(labels.code)).toBe(true);
    }
    // 300 requests, a handful of outcomes: the series stay few.
    expect(series.length).toBeLessThanOrEqual(30);
    const names = new Set(samples.map((sample) => JSON.stringify(sample.labels)));
    expect(names.size).toBeLessThan(600);
    const exported = receiver.bodies.join('\n');
    expect(exported.includes(s.token)).toBe(false);
    expect(planted.some((p) => exported.includes(p))).toBe(false);
  });
});
