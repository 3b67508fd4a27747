/**
 * The admin API end to end on a real gateway: bootstrap, roles, CRUD with its error codes,
 * tokens shown once, /discover, OpenAPI coverage and throttling of bad tokens.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';

/** The port the gateway's forward proxy listens on (tests bind port 0: a random one). */
const proxyPort = (gateway: Gateway): number => Number(new URL(gateway.urls.proxy).port);

const ownerToken = () => `vec_adm_${randomBytes(32).toString('base64url')}`;

interface Call {
  status: number;
  body: any;
  headers: Headers;
  text: string;
}

function client(gateway: Gateway, token?: string) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Call> => {
    const res = await fetch(`${gateway.urls.http}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: text ? JSON.parse(text) : undefined,
    };
  };
}

describe('bootstrap', () => {
  it('creates the first owner token once, shown on the announce channel and saved owner-only', async () => {
    const shown: string[] = [];
    const gateway = await startTestGateway({}, { announce: (t) => shown.push(t) });
    const dataDir = gateway.config.System.Storage.DataDirectory;
    try {
      const file = join(dataDir, 'admin-token');
      const token = readFileSync(file, 'utf8').trim();
      expect(token).toMatch(/^vec_adm_[A-Za-z0-9_-]{43}$/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(shown.join('')).toContain(token);
      expect((await client(gateway, token)('GET', '/v1/vaults')).status).toBe(200);
    } finally {
      await gateway.close();
    }
    const again: string[] = [];
    const restarted = await startTestGateway(
      {
        System__Storage__DataDirectory: dataDir,
        System__Storage__Database__Providers__Sqlite__ConnectionString: `Data Source=${join(dataDir, 'vectra.db')}`,
      },
      { announce: (t) => again.push(t) },
    );
    await restarted.close();
    expect(again).toEqual([]);
  });

  it('uses Security__Admin__BootstrapToken when set, and shows nothing', async () => {
    const token = ownerToken();
    const shown: string[] = [];
    const gateway = await startTestGateway(
      { Security__Admin__BootstrapToken: token },
      { announce: (t) => shown.push(t) },
    );
    try {
      expect(shown).toEqual([]);
      const tokens = await client(gateway, token)('GET', '/v1/admin-tokens');
      expect(tokens.body.adminTokens).toEqual([expect.objectContaining({ role: 'owner' })]);
      expect(tokens.text).not.toContain(token);
    } finally {
      await gateway.close();
    }
  });
});

describe('admin API', () => {
  let gateway: Gateway;
  let owner: ReturnType<typeof client>;
  const token = ownerToken();

  beforeAll(async () => {
    gateway = await startTestGateway({ Security__Admin__BootstrapToken: token });
    owner = client(gateway, token);
  });
  afterAll(() => gateway.close());

  it('refuses missing, malformed and unknown tokens with codes', async () => {
    const none = await client(gateway)('GET', '/v1/vaults');
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('VEC_AUTH_REQUIRED');
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const unknown = await client(gateway, ownerToken())('GET', '/v1/vaults');
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('x-vectra-error')).toBe('VEC_AUTH_TOKEN_REJECTED');
    const basic = await client(gateway)('GET', '/v1/vaults', undefined, {
      authorization: 'Basic Zm9vOmJhcg==',
    });
    expect(basic.body.code).toBe('VEC_AUTH_REQUIRED');
  });

  it('vaults: default exists, CRUD, duplicates 409, unknown 404, bad input 400 naming the field', async () => {
    expect((await owner('GET', '/v1/vaults')).body.vaults.map((v: any) => v.name)).toContain(
      'default',
    );
    const created = await owner('POST', '/v1/vaults', {
      name: 'payments',
      unmatchedHosts: 'passthrough',
    });
    expect(created.status).toBe(201);
    expect(created.body.vault).toMatchObject({ name: 'payments', unmatchedHosts: 'passthrough' });
    expect((await owner('POST', '/v1/vaults', { name: 'payments' })).body.code).toBe(
      'VEC_RESOURCE_CONFLICT',
    );
    expect((await owner('GET', '/v1/vaults/nope')).status).toBe(404);
    const badName = await owner('POST', '/v1/vaults', { name: 'Bad Name!' });
    expect(badName).toMatchObject({
      status: 400,
      body: { code: 'VEC_REQUEST_INVALID', field: 'name' },
    });
    const missing = await owner('POST', '/v1/vaults', {});
    expect(missing.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'name' });
    const malformed = await owner('POST', '/v1/vaults', '{"name":');
    expect(malformed).toMatchObject({ status: 400, body: { code: 'VEC_REQUEST_MALFORMED' } });
    const patched = await owner('PATCH', '/v1/vaults/payments', { unmatchedHosts: 'deny' });
    expect(patched.body.vault.unmatchedHosts).toBe('deny');
    expect(
      (await owner('PATCH', '/v1/vaults/payments', { unmatchedHosts: 'maybe' })).body.field,
    ).toBe('unmatchedHosts');
    expect((await owner('DELETE', '/v1/vaults/default')).body.code).toBe(
      'VEC_VAULT_DEFAULT_PROTECTED',
    );
    expect((await owner('DELETE', '/v1/vaults/payments')).status).toBe(204);
    expect((await owner('GET', '/v1/vaults/payments')).body.code).toBe('VEC_VAULT_NOT_FOUND');
  });

  it('credentials are write-only; services are validated; /discover shows names, never values', async () => {
    const secret = `sk_live_${randomBytes(12).toString('hex')}`;
    await owner('POST', '/v1/vaults', { name: 'stripe' });
    const set = await owner('PUT', '/v1/vaults/stripe/credentials/STRIPE_KEY', { value: secret });
    expect(set.status).toBe(200);
    expect(set.body.credential.key).toBe('STRIPE_KEY');
    const crlf = await owner('PUT', '/v1/vaults/stripe/credentials/BAD', {
      value: 'a\r\nX-Injected: 1',
    });
    expect(crlf.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'value' });

    const badHost = await owner('POST', '/v1/vaults/stripe/services', {
      name: 'api',
      host: 'https://api.stripe.com',
      auth: { type: 'bearer', credential: 'STRIPE_KEY' },
    });
    expect(badHost.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'host' });
    const badScheme = await owner('POST', '/v1/vaults/stripe/services', {
      name: 'api',
      host: 'api.stripe.com',
      auth: { type: 'magic' },
    });
    expect(badScheme.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'auth.type' });
    const missingKey = await owner('POST', '/v1/vaults/stripe/services', {
      name: 'api',
      host: 'api.stripe.com',
      auth: { type: 'bearer', credential: 'NOPE' },
    });
    expect(missingKey.body).toMatchObject({
      code: 'VEC_REQUEST_INVALID',
      field: 'auth.credential',
    });
    const badServiceScheme = await owner('POST', '/v1/vaults/stripe/services', {
      name: 'api',
      host: 'api.stripe.com',
      scheme: 'ftp',
      auth: { type: 'bearer', credential: 'STRIPE_KEY' },
    });
    expect(badServiceScheme.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'scheme' });
    const service = await owner('POST', '/v1/vaults/stripe/services', {
      name: 'api',
      host: 'api.stripe.com',
      auth: { type: 'bearer', credential: 'STRIPE_KEY' },
    });
    expect(service.status).toBe(201);
    expect(service.body.service.scheme).toBe('https');
    const plain = await owner('POST', '/v1/vaults/stripe/services', {
      name: 'internal',
      host: 'stripe.internal:8080',
      scheme: 'http',
      auth: { type: 'bearer', credential: 'STRIPE_KEY' },
    });
    expect(plain.body.service).toMatchObject({ scheme: 'http', host: 'stripe.internal:8080' });
    const patched = await owner('PATCH', '/v1/vaults/stripe/services/internal', { enabled: false });
    expect(patched.body.service).toMatchObject({ scheme: 'http', enabled: false });

    const agent = await owner('POST', '/v1/agents', { name: 'billing-bot', vaults: ['stripe'] });
    expect(agent.status).toBe(201);
    expect(agent.body.token).toMatch(/^vec_agt_/);
    const discover = await client(gateway, agent.body.token)('GET', '/discover');
    expect(discover.body).toEqual({
      vault: 'stripe',
      services: [{ name: 'api', host: 'api.stripe.com', scheme: 'https', port: 443 }],
      available_credentials: ['STRIPE_KEY'],
      proxy: { port: proxyPort(gateway) },
    });

    const reads = await Promise.all([
      owner('GET', '/v1/vaults/stripe/credentials'),
      owner('GET', '/v1/vaults/stripe/services'),
      owner('GET', '/v1/agents/billing-bot'),
      owner('GET', '/v1/openapi.json'),
    ]);
    for (const read of [set, ...reads, discover]) expect(read.text).not.toContain(secret);
    expect(reads[0].body.credentials).toEqual([expect.objectContaining({ key: 'STRIPE_KEY' })]);
    expect((await owner('DELETE', '/v1/vaults/stripe/credentials/STRIPE_KEY')).body.code).toBe(
      'VEC_RESOURCE_CONFLICT',
    );
  });

  it('agents: token shown once, rotation and deletion take effect at once, grants checked', async () => {
    await owner('POST', '/v1/vaults', { name: 'gh' });
    await owner('POST', '/v1/vaults', { name: 'other' });
    const created = await owner('POST', '/v1/agents', { name: 'coder', vaults: ['gh'] });
    const first = created.body.token as string;
    expect((await owner('GET', '/v1/agents')).text).not.toContain(first);
    expect((await client(gateway, first)('GET', '/discover')).status).toBe(200);
    expect(
      (await client(gateway, first)('GET', '/discover', undefined, { 'x-vault': 'other' })).body
        .code,
    ).toBe('VEC_AUTH_FORBIDDEN');
    expect((await client(gateway, first)('GET', '/v1/vaults')).body.code).toBe(
      'VEC_AUTH_FORBIDDEN',
    );

    const rotated = await owner('POST', '/v1/agents/coder/rotate');
    expect(rotated.body.token).toMatch(/^vec_agt_/);
    expect((await client(gateway, first)('GET', '/discover')).status).toBe(401);
    expect((await client(gateway, rotated.body.token)('GET', '/discover')).status).toBe(200);

    const granted = await owner('PUT', '/v1/agents/coder/vaults/other');
    expect(granted.body.agent.vaults.sort()).toEqual(['gh', 'other']);
    const ambiguous = await client(gateway, rotated.body.token)('GET', '/discover');
    expect(ambiguous.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'X-Vault' });
    expect(
      (
        await client(gateway, rotated.body.token)('GET', '/discover', undefined, {
          'x-vault': 'other',
        })
      ).body.vault,
    ).toBe('other');

    expect((await owner('DELETE', '/v1/agents/coder')).status).toBe(204);
    expect((await client(gateway, rotated.body.token)('GET', '/discover')).status).toBe(401);
    expect((await owner('GET', '/v1/agents/coder')).body.code).toBe('VEC_AGENT_NOT_FOUND');
  });

  it("/discover advertises the forward proxy's bound port, and only its port", async () => {
    await owner('POST', '/v1/vaults', { name: 'px' });
    const agent = await owner('POST', '/v1/agents', { name: 'px-bot', vaults: ['px'] });
    const session = await owner('POST', '/v1/vaults/px/sessions', { ttlSeconds: 3600 });
    const port = proxyPort(gateway);
    // Port 0 in the test configuration: the port the listener was given, not a configured one.
    expect(gateway.config.System.Proxy.Port).toBe(0);
    expect(port).not.toBe(7081);
    for (const token of [agent.body.token, session.body.token]) {
      const answer = await client(gateway, token)('GET', '/discover');
      expect(answer.status).toBe(200);
      expect(answer.body.proxy).toEqual({ port });
    }
    // It is the forward proxy: a request without Proxy-Authorization gets its 407.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'GET', path: 'http://upstream.invalid/' },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(407);
  });

  it('sessions: minted for one vault with a TTL, listed without tokens, revocable', async () => {
    await owner('POST', '/v1/vaults', { name: 'sess' });
    const tooShort = await owner('POST', '/v1/vaults/sess/sessions', { ttlSeconds: 10 });
    expect(tooShort.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field: 'ttlSeconds' });
    const minted = await owner('POST', '/v1/vaults/sess/sessions', { ttlSeconds: 3600 });
    expect(minted.status).toBe(201);
    expect(minted.body.token).toMatch(/^vec_sess_/);
    const list = await owner('GET', '/v1/sessions?vault=sess');
    expect(list.body.sessions).toEqual([
      expect.objectContaining({ id: minted.body.session.id, vault: 'sess' }),
    ]);
    expect(list.text).not.toContain(minted.body.token);
    expect((await client(gateway, minted.body.token)('GET', '/discover')).body.vault).toBe('sess');
    expect((await owner('DELETE', `/v1/sessions/${minted.body.session.id}`)).status).toBe(204);
    expect((await client(gateway, minted.body.token)('GET', '/discover')).status).toBe(401);
  });

  it('roles: auditor reads only; approver reads but cannot touch secrets; revoked tokens stop at once', async () => {
    const auditor = await owner('POST', '/v1/admin-tokens', { name: 'audit', role: 'auditor' });
    const approver = await owner('POST', '/v1/admin-tokens', { name: 'approve', role: 'approver' });
    expect(auditor.status).toBe(201);
    const asAuditor = client(gateway, auditor.body.token);
    const asApprover = client(gateway, approver.body.token);
    expect((await asAuditor('GET', '/v1/vaults')).status).toBe(200);
    expect((await asAuditor('POST', '/v1/vaults', { name: 'x1' })).body.code).toBe(
      'VEC_AUTH_FORBIDDEN',
    );
    expect((await asApprover('GET', '/v1/agents')).status).toBe(200);
    expect(
      (await asApprover('PUT', '/v1/vaults/default/credentials/K', { value: 'v' })).status,
    ).toBe(403);
    expect(
      (await asApprover('POST', '/v1/admin-tokens', { name: 'esc', role: 'owner' })).status,
    ).toBe(403);
    expect(
      (await owner('POST', '/v1/admin-tokens', { name: 'bad', role: 'root' })).body.field,
    ).toBe('role');
    expect((await owner('DELETE', `/v1/admin-tokens/${auditor.body.adminToken.id}`)).status).toBe(
      204,
    );
    expect((await asAuditor('GET', '/v1/vaults')).status).toBe(401);
  });

  it('OpenAPI describes exactly the routes that are mounted', async () => {
    const doc = (await client(gateway)('GET', '/v1/openapi.json')).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const mounted: string[] = [];
    const stack = (gateway.app as any).router.stack as any[];
    for (const layer of stack) {
      // The admin API is mounted at '/'; the web UI's router at /ui is not part of it.
      if (layer.slash === false && layer.matchers?.[0]?.('/ui/')) continue;
      for (const inner of layer.handle?.stack ?? []) {
        if (!inner.route) continue;
        for (const method of Object.keys(inner.route.methods)) {
          mounted.push(
            `${method.toUpperCase()} ${String(inner.route.path).replace(/:(\w+)/g, '{$1}')}`,
          );
        }
      }
    }
    expect(mounted.sort()).toEqual(documented);
    expect(documented).toEqual(
      expect.arrayContaining([
        'GET /discover',
        'POST /v1/agents/{agent}/rotate',
        'GET /v1/openapi.json',
        'GET /v1/approvals',
        'GET /v1/approvals/{id}',
        'POST /v1/approvals/{id}/approve',
        'POST /v1/approvals/{id}/deny',
        'GET /v1/approvals/standing',
        'DELETE /v1/approvals/standing/{id}',
        'GET /v1/approvals/events',
      ]),
    );
    expect(doc.paths['/discover'].get.summary).toContain("forward proxy's port");
  });
});

describe('throttling of bad tokens', () => {
  it('slows a client that keeps sending bad tokens, without locking out a valid token from the same address', async () => {
    const token = ownerToken();
    const gateway = await startTestGateway({ Security__Admin__BootstrapToken: token });
    try {
      const garbage = `vec_adm_${'A'.repeat(43)}`;
      let last: Call | undefined;
      for (let i = 0; i < 15; i++) last = await client(gateway, garbage)('GET', '/v1/vaults');
      expect(last?.status).toBe(429);
      expect(last?.body.code).toBe('VEC_AUTH_THROTTLED');
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await client(gateway, token)('GET', '/v1/vaults')).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});
