/**
 * The `policy` stage between real sockets: a real HTTP client, the real exchange adapter and
 * pipeline runner, the Internal provider over a policy directory, the real forward stage and
 * upstream client, and a real upstream that records what reached it. JSON bodies the stage
 * reads must arrive upstream byte for byte; refused requests (including bodies the body rule
 * cannot judge) must not arrive at all.
 *
 * Until the lead wires the stage into buildStages (after resolveService), the pipeline here is
 * [authenticate (a stub naming the agent and vault), policy, forward].
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/observability/types';
import { createPipeline } from '../../src/pipeline/runner';
import { createForwardStage } from '../../src/pipeline/stages/forward';
import { createPolicyStage } from '../../src/pipeline/stages/policy';
import { CONTINUE, type Stage } from '../../src/pipeline/types';
import { createInternalEngine, type InternalPolicyEngine } from '../../src/policy/internal-engine';
import { contentLengthOf, hasBody, headerMap, runExchange } from '../../src/proxy/exchange';
import { createUpstreamClient } from '../../src/proxy/upstream';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { testConfig } from '../helpers/gateway';
import { policyDocument, rankedRule, rule, when } from '../helpers/policy-documents';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const POLICY = policyDocument('api', 'Allow', [
  rankedRule(10, 'no-drops', 'Deny', 'Dropping tables is not allowed', [
    when('body.action', 'eq', 'drop'),
  ]),
  rule('exports', 'Hitl', 'Exports need approval', [when('path', 'contains', '/export')]),
]);

const BODY_LIMIT = 1024;

let dir: string;
let upstream: TestUpstream;
let client: UpstreamClient;
let engine: InternalPolicyEngine;
let server: Server;
let url: string;

beforeAll(async () => {
  dir = tempDir('vectra-policy-pipeline-');
  writeFileSync(join(dir, 'api.json'), JSON.stringify(POLICY));
  upstream = await startUpstream();
  client = createUpstreamClient(
    testConfig({ System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128' }).System.Proxy,
  );
  engine = await createInternalEngine({ directory: dir, logger: silentLogger, watch: false });
  const authenticate: Stage = async function authenticate(ctx) {
    ctx.principal = { kind: 'agent', agentId: 'a1', agentName: 'bot', vaults: ['team'] };
    ctx.vault = 'team';
    return CONTINUE;
  };
  const pipeline = createPipeline(
    [
      authenticate,
      createPolicyStage({}, { engine, bodyLimit: BODY_LIMIT }),
      createForwardStage({}, { upstream: client }),
    ],
    { logger: silentLogger },
  );
  const target = new URL(upstream.httpUrl);
  server = createServer((req, res) => {
    // runExchange counts request bytes with a 'data' listener, which would start the body
    // flowing before any stage reads it; pausing first keeps the bytes for the pipeline.
    req.pause();
    void runExchange(
      { pipeline, logger: silentLogger },
      {
        entry: 'forward',
        credentials: {},
        request: {
          method: req.method ?? 'GET',
          scheme: 'http',
          host: '127.0.0.1',
          port: Number(target.port),
          path: req.url ?? '/',
          headers: headerMap(req),
          body: hasBody(req) ? req : undefined,
          contentLength: contentLengthOf(req),
          upgrade: false,
        },
      },
      { req, res },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await engine.close();
  await client.close();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  upstream.received.length = 0;
});

const post = (
  path: string,
  body: string | ReadableStream<Uint8Array>,
  contentType = 'application/json',
) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
    duplex: 'half',
  } as RequestInit);

describe('the policy stage between real sockets', () => {
  it('forwards a JSON body it read, byte for byte', async () => {
    const body = '{ "action": "create",\n  "name": "ünïcode" }';
    const res = await post('/items', body);
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]).toMatchObject({ method: 'POST', url: '/items', body });
    expect(upstream.received[0].headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('refuses by the body, sending nothing upstream', async () => {
    const res = await post('/items', JSON.stringify({ action: 'drop' }));
    expect(res.status).toBe(403);
    expect(res.headers.get('x-vectra-error')).toBe('VEC_POLICY_DENIED');
    expect(await res.json()).toMatchObject({
      code: 'VEC_POLICY_DENIED',
      message: 'Policy api (rule no-drops): Dropping tables is not allowed.',
      policy: 'api',
      rule: 'no-drops',
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses Hitl with VEC_APPROVAL_REQUIRED while no approval stage follows', async () => {
    const res = await fetch(`${url}/v1/export`);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      code: 'VEC_APPROVAL_REQUIRED',
      message: 'Policy api (rule exports): Exports need approval.',
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a large body it cannot judge without reading it (413), sending nothing', async () => {
    const body = 'x'.repeat(200_000);
    const res = await post('/upload', body, 'text/plain');
    expect(res.status).toBe(413);
    expect(res.headers.get('x-vectra-error')).toBe('VEC_POLICY_BODY_UNREADABLE');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a chunked JSON body over the limit (read up to the limit, not parsed)', async () => {
    const text = JSON.stringify({ action: 'drop', padding: 'p'.repeat(8 * BODY_LIMIT) });
    const chunks = [text.slice(0, 100), text.slice(100, 3000), text.slice(3000)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await post('/bulk', stream);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      code: 'VEC_POLICY_BODY_UNREADABLE',
      policy: 'api',
      rule: 'no-drops',
    });
    expect(upstream.received).toHaveLength(0);
  });
});
