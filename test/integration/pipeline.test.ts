/**
 * The whole pipeline on a RequestContext, with the real VaultService and secret provider of a
 * test gateway and a real HTTP upstream on port 0 that records what reached it. The upstream
 * client is a minimal one on node:http, so these tests do not depend on the SSRF guard.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from '../../src/gateway';
import { createAgentAuthenticator } from '../../src/identity/agent-auth';
import { silentLogger } from '../../src/observability/types';
import { testContext } from '../helpers/context';
import { createPipeline, type Pipeline } from '../../src/pipeline/runner';
import { buildStages } from '../../src/pipeline/stages';
import type { EntryPoint, RequestContext } from '../../src/pipeline/types';
import type { HeaderMap, UpstreamResponse } from '../../src/http/types';
import type { UpstreamClient } from '../../src/http/upstream-client';
import { startTestGateway } from '../helpers/gateway';
import { readText as read } from '../helpers/streams';

const SECRET = 'ghp_integrationSecret0123456789';
const API_KEY = 'key-live-abcdefghijklmnop';

/** A plain node:http client: the UpstreamClient contract without pooling or SSRF checks. */
const nodeHttpUpstream: UpstreamClient = {
  send: (request) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: request.host,
          port: request.port,
          method: request.method,
          path: request.path,
          headers: request.headers,
          agent: false,
        },
        (res) =>
          resolve({
            status: res.statusCode ?? 502,
            statusMessage: res.statusMessage,
            headers: res.headers as HeaderMap,
            body: res,
          }),
      );
      req.on('error', reject);
      if (request.body) request.body.pipe(req);
      else req.end();
    }),
  upgrade: () => Promise.reject(new Error('no upgrades in this test')),
  close: async () => undefined,
};

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
}

describe('pipeline against a real vault and upstream', () => {
  let gateway: Gateway;
  let pipeline: Pipeline;
  let agentToken: string;
  let port: number;
  const received: Received[] = [];
  // Echoes the request back, like httpbin: the gateway must redact the injected secret.
  const upstream = createServer((req, res) => {
    received.push({ url: req.url ?? '', headers: req.headers });
    const echo = JSON.stringify({ url: req.url, headers: req.headers });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(echo),
      'x-echo-authorization': req.headers.authorization ?? '',
    });
    res.end(echo);
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    port = (upstream.address() as AddressInfo).port;
    gateway = await startTestGateway();
    const { vaults } = gateway;
    await vaults.createVault({ name: 'locked', unmatchedHosts: 'deny' });
    await vaults.createVault({ name: 'open', unmatchedHosts: 'passthrough' });
    await vaults.setCredential('locked', 'GH_TOKEN', SECRET);
    await vaults.setCredential('locked', 'API_KEY', API_KEY);
    await vaults.createService('locked', {
      name: 'bearer',
      host: `127.0.0.1:${port}/bearer/**`,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'GH_TOKEN' },
    });
    await vaults.createService('locked', {
      name: 'key',
      host: `127.0.0.1:${port}/key/**`,
      scheme: 'http',
      auth: { type: 'api-key', header: 'X-Api-Key', credential: 'API_KEY' },
    });
    await vaults.createService('locked', {
      name: 'query',
      host: `127.0.0.1:${port}/query/**`,
      scheme: 'http',
      auth: { type: 'query', param: 'api_key', credential: 'API_KEY' },
    });
    agentToken = (await gateway.identity.createAgent({ name: 'bot', vaults: ['locked', 'open'] }))
      .token;
    const authenticator = createAgentAuthenticator(
      gateway.config.Security.AgentAuth,
      gateway.identity,
    );
    pipeline = createPipeline(
      buildStages({ authenticator, vaults, secrets: gateway.secrets, upstream: nodeHttpUpstream }),
      { logger: silentLogger },
    );
  });

  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await gateway?.close();
  });

  beforeEach(() => (received.length = 0));

  function context(
    entry: EntryPoint,
    path: string,
    headers: HeaderMap,
    credentials: { token?: string; vault?: string },
  ): RequestContext {
    return testContext({
      entry,
      credentials,
      request: { scheme: 'http', host: '127.0.0.1', port, path, headers },
    });
  }

  /** Every header value that reached the upstream, in one string, for "never seen" checks. */
  const everything = () => JSON.stringify(received);

  it('forward entry: the upstream gets the injected bearer, and nothing of the agent or Vectra', async () => {
    const ctx = context(
      'forward',
      '/bearer/user',
      {
        'proxy-authorization': `Basic ${Buffer.from(`${agentToken}:locked`).toString('base64')}`,
        Authorization: 'Bearer agent-supplied',
        'x-vectra-trace': 'agent',
        accept: 'application/json',
      },
      { token: agentToken, vault: 'locked' },
    );
    expect(await pipeline(ctx)).toEqual({ kind: 'continue' });
    const response = ctx.response as UpstreamResponse;
    const body = await read(response.body);

    expect(received).toHaveLength(1);
    expect(received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(received[0].headers['proxy-authorization']).toBeUndefined();
    expect(Object.keys(received[0].headers).filter((h) => h.startsWith('x-vectra'))).toEqual([]);
    expect(everything()).not.toContain(agentToken);
    expect(everything()).not.toContain('agent-supplied');
    // Echoed back: redacted in the body and in the headers.
    expect(body).not.toContain(SECRET);
    expect(body).toContain('Bearer [REDACTED]');
    expect(response.headers['x-echo-authorization']).toBe('Bearer [REDACTED]');
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(ctx.audit.decision).toBe('allow');
    expect(ctx.service?.name).toBe('bearer');
  });

  it('reverse entry: the agent token in Authorization never reaches the upstream', async () => {
    const ctx = context(
      'reverse',
      '/key/items',
      { authorization: `Bearer ${agentToken}`, 'x-vault': 'locked' },
      { token: agentToken, vault: 'locked' },
    );
    await pipeline(ctx);
    await read((ctx.response as UpstreamResponse).body);
    expect(received[0].headers['x-api-key']).toBe(API_KEY);
    expect(received[0].headers.authorization).toBeUndefined();
    expect(received[0].headers['x-vault']).toBeUndefined();
    expect(everything()).not.toContain(agentToken);
  });

  it('query scheme: the parameter the agent sent is replaced', async () => {
    const ctx = context(
      'forward',
      '/query/search?q=x&api_key=mine',
      {},
      {
        token: agentToken,
        vault: 'locked',
      },
    );
    await pipeline(ctx);
    const body = await read((ctx.response as UpstreamResponse).body);
    expect(received[0].url).toBe(`/query/search?q=x&api_key=${API_KEY}`);
    expect(body).not.toContain(API_KEY);
  });

  it("unmatched host in a 'deny' vault: refused before anything is sent", async () => {
    const ctx = context('forward', '/elsewhere', {}, { token: agentToken, vault: 'locked' });
    const decision = await pipeline(ctx);
    expect(decision).toMatchObject({ kind: 'deny', error: { code: 'VEC_UNMATCHED_HOST_DENIED' } });
    expect(received).toEqual([]);
    expect(ctx.audit).toMatchObject({ decision: 'deny', errorCode: 'VEC_UNMATCHED_HOST_DENIED' });
  });

  it("unmatched host in a 'passthrough' vault: the agent's own headers, minus Vectra's", async () => {
    const ctx = context(
      'forward',
      '/elsewhere',
      { authorization: 'Bearer agent-own', 'x-vectra-x': '1', 'proxy-authorization': 'Basic x' },
      { token: agentToken, vault: 'open' },
    );
    await pipeline(ctx);
    const response = ctx.response as UpstreamResponse;
    await read(response.body);
    expect(received[0].headers.authorization).toBe('Bearer agent-own');
    expect(received[0].headers['x-vectra-x']).toBeUndefined();
    expect(received[0].headers['proxy-authorization']).toBeUndefined();
    expect(response.headers['content-length']).toBeDefined(); // not redacted: zero-copy
  });

  it('a bad token is a 407 on the proxy and nothing is sent', async () => {
    const decision = await pipeline(
      context('tunnel', '/bearer/x', {}, { token: 'vec_agt_' + 'x'.repeat(43) }),
    );
    expect(decision).toMatchObject({
      kind: 'deny',
      error: { code: 'VEC_PROXY_AUTH_REQUIRED', statusCode: 407 },
    });
    expect(received).toEqual([]);
  });
});
