/**
 * Traces of proxied requests through the real gateway, exported to a local OTLP/HTTP receiver:
 * a span per request with the metric labels as attributes, a child per pipeline stage and a
 * client span for the upstream call, all in the trace the agent's `traceparent` names, which the
 * upstream receives in turn. With tracing off nothing is exported and the agent's headers reach
 * the upstream as they were sent.
 */
import { request } from 'node:http';
import { STAGE_ORDER } from '../../src/pipeline/stages';
import { upstreamAndGateways } from '../helpers/gateway';
import { basicProxyAuth, openTunnel } from '../helpers/raw-http';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import type { TestUpstream } from '../helpers/upstream';
import {
  AGENT_SPAN,
  SERVER,
  startTracedGateway,
  TRACE_ID,
  type TracedGateway as Setup,
} from '../helpers/traced-gateway';

const TRACEPARENT = `00-${TRACE_ID}-${AGENT_SPAN}-01`;

const CLIENT = 3;
const ERROR = 2;

function setUp(upstream: TestUpstream, env: NodeJS.ProcessEnv): Promise<Setup> {
  return startTracedGateway(upstream, env, { credential: 'tracing-secret-value' });
}

/** An absolute-form request through the forward proxy; resolves with the status once read. */
function viaProxy(s: Setup, url: string, headers: Record<string, string> = {}) {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: s.proxyPort,
        path: url,
        headers: {
          host: new URL(url).host,
          'proxy-authorization': basicProxyAuth(s.token, 'shop'),
          connection: 'close',
          ...headers,
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((span) => span.parentSpanId === parent.spanId && span.traceId === parent.traceId);

describe('proxied-request traces', () => {
  const { upstream, gateways } = upstreamAndGateways([]);
  let receiver: OtlpReceiver;
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('export a span per request with stage and upstream children, in the agent trace', async () => {
    const s = await setUp(upstream, {
      Observability__Tracing__Enabled: 'true',
      Observability__Tracing__OtlpEndpoint: receiver.url,
      Observability__Tracing__ServiceName: 'vectra-under-test',
    });
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    expect(await viaProxy(s, `${plain}/ok`, { traceparent: TRACEPARENT })).toBe(200);
    expect(await viaProxy(s, `${plain}/forbidden`)).toBe(403);
    const tunnel = await openTunnel(
      s.proxyPort,
      `localhost:${upstream.httpsPort}`,
      basicProxyAuth(s.token, 'shop'),
      { ca: s.ca },
    );
    const inTunnel =
      `GET /in-tunnel HTTP/1.1\r\nHost: localhost:${upstream.httpsPort}\r\n` +
      `traceparent: ${TRACEPARENT}\r\n\r\n`;
    expect((await tunnel.request(inTunnel)).status).toBe(200);
    tunnel.socket.destroy();
    // Closing sends the spans still batched.
    await s.gateway.close();

    const { spans } = receiver;
    expect(new Set(spans.map((span) => span.serviceName))).toEqual(new Set(['vectra-under-test']));
    const requests = spans.filter((span) => span.kind === SERVER);
    expect(requests).toHaveLength(3);

    // The allowed request: in the agent's trace, a child of the agent's span.
    const allowed = requests.find(
      (span) => span.attributes.entry === 'forward' && span.attributes.decision === 'allow',
    )!;
    expect(allowed).toMatchObject({
      name: 'proxy GET',
      traceId: TRACE_ID,
      parentSpanId: AGENT_SPAN,
      attributes: {
        vault: 'shop',
        service: 'plain',
        decision: 'allow',
        code: 'none',
        entry: 'forward',
        status: 200,
      },
    });
    const stages = childrenOf(spans, allowed);
    const ran = stages.map((span) => span.name);
    expect(ran).toEqual(STAGE_ORDER.filter((name) => ran.includes(name)));
    expect(ran).toEqual(
      expect.arrayContaining(['authenticate', 'resolveService', 'policy', 'inject', 'forward']),
    );
    const forward = stages.find((span) => span.name === 'forward')!;
    const [call] = childrenOf(spans, forward);
    expect(call).toMatchObject({ name: 'upstream', kind: CLIENT, attributes: { status: 200 } });

    // The upstream saw the upstream call's span as its parent, in the same trace.
    const ok = upstream.received.find((r) => r.url === '/ok')!;
    expect(ok.headers.traceparent).toBe(`00-${TRACE_ID}-${call.spanId}-01`);
    const inside = upstream.received.find((r) => r.url === '/in-tunnel')!;
    expect(inside.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));

    // The refusal: a trace of its own, stopped at policy, no upstream call.
    const refused = requests.find((span) => span.attributes.decision === 'deny')!;
    expect(refused.parentSpanId).toBe('');
    expect(refused.traceId).not.toBe(TRACE_ID);
    expect(refused.attributes).toMatchObject({
      code: 'VEC_POLICY_DENIED',
      status: 403,
      entry: 'forward',
    });
    const refusedStages = childrenOf(spans, refused);
    expect(refusedStages.at(-1)).toMatchObject({
      name: 'policy',
      attributes: { decision: 'deny', code: 'VEC_POLICY_DENIED' },
    });
    expect(refusedStages.some((span) => span.name === 'forward')).toBe(false);
    expect(spans.some((span) => span.kind === CLIENT && span.traceId === refused.traceId)).toBe(
      false,
    );

    // Inside the tunnel: the agent's trace too, with the tunnel's entry.
    const tunnelled = requests.find((span) => span.attributes.entry === 'tunnel')!;
    expect(tunnelled).toMatchObject({
      traceId: TRACE_ID,
      parentSpanId: AGENT_SPAN,
      attributes: { service: 'secure', decision: 'allow', status: 200 },
    });
    expect(requests.every((span) => span.statusCode !== ERROR)).toBe(true);
  });

  it('export nothing and pass the agent trace headers untouched when off', async () => {
    const s = await setUp(upstream, {
      Observability__Tracing__OtlpEndpoint: receiver.url,
    });
    gateways.push(s.gateway);
    const plain = `http://localhost:${upstream.httpPort}`;
    expect(
      await viaProxy(s, `${plain}/ok`, { traceparent: TRACEPARENT, tracestate: 'agent=1' }),
    ).toBe(200);
    expect(upstream.received[0].headers.traceparent).toBe(TRACEPARENT);
    expect(upstream.received[0].headers.tracestate).toBe('agent=1');
    await s.gateway.close();
    expect(receiver.requests).toBe(0);
  });
});
