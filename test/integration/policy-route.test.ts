/**
 * `POST /v1/policy/evaluate` on the real admin router and API app (authorizer, error middleware,
 * OpenAPI), with the real VaultService matching services, and `vectra policy test --addr`
 * against it: a dry run over the API decides as the pipeline would and sends nothing upstream.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCache } from '../../src/cache/memory';
import { registerPolicyCommand } from '../../src/cli/policy-command';
import { createAgentAuthenticator } from '../../src/identity/agent-auth';
import { createAuthThrottle } from '../../src/identity/auth-throttle';
import { silentLogger } from '../../src/observability/types';
import { createInternalEngine, type InternalPolicyEngine } from '../../src/policy/internal-engine';
import { createAdminRouter } from '../../src/server/admin/router';
import { policyRoutes } from '../../src/server/admin/policy-routes';
import { createInternalScorer } from '../../src/semantic/internal-scorer';
import { openDatabase } from '../../src/storage';
import { createCipher } from '../../src/vault/crypto';
import { createVaultServices } from '../helpers/vault-services';
import { serveApiRouter } from '../helpers/api-app';
import { evaluatePolicy, testConfig } from '../helpers/gateway';
import { policyDocument, rankedRule, rule, when } from '../helpers/policy-documents';
import { sqliteConfig } from './storage-test-helpers';
import { runInProcess } from '../helpers/in-process-cli';
import { tempDir } from '../helpers/temp-dir';

const POLICIES = {
  'base.json': policyDocument('base', 'Hitl', [
    rankedRule(10, 'reads', 'Allow', 'Reading is fine', [when('method', 'in', ['GET', 'HEAD'])]),
  ]),
  'github.json': policyDocument(
    'github-no-mutations',
    'Allow',
    [
      rule(
        'no-mutations',
        'Deny',
        'GraphQL mutations are not allowed on GitHub',
        [when('body.query', 'startsWith', 'mutation')],
        { risk: 0.9 },
      ),
    ],
    {
      description: 'GraphQL mutations to GitHub are refused.',
      appliesTo: { services: ['github'] },
    },
  ),
};

interface Api {
  url: string;
  tokens: { owner: string; auditor: string; agent: string };
  close(): Promise<void>;
}

let api: Api;

beforeAll(async () => {
  const dir = tempDir('vectra-policy-route-');
  for (const [name, doc] of Object.entries(POLICIES)) {
    writeFileSync(join(dir, name), JSON.stringify(doc));
  }
  const db = await openDatabase(sqliteConfig(`Data Source=${join(dir, 'vectra.db')}`));
  const cache = new MemoryCache({ sweepIntervalMs: 0 });
  const vaults = createVaultServices({ db, cipher: createCipher(randomBytes(32)), cache });
  const engine: InternalPolicyEngine = await createInternalEngine({
    directory: dir,
    logger: silentLogger,
    watch: false,
  });
  const router = createAdminRouter({
    vaults,
    identity: vaults,
    agents: createAgentAuthenticator(testConfig().Security.AgentAuth, vaults),
    throttle: createAuthThrottle({ cache }),
    version: 'test',
    caPem: '',
    extraRoutes: policyRoutes(engine, {
      vaults,
      maxBodyBytes: 1024,
      scorer: createInternalScorer({}),
      scored: true,
      approval: { enabled: true, threshold: 0.8 },
    }),
  });
  const served = await serveApiRouter(router);
  await vaults.createVault({ name: 'team' });
  await vaults.setCredential('team', 'GH', 'ghp_not-used-by-a-dry-run');
  await vaults.createService('team', {
    name: 'github',
    host: 'api.github.com',
    auth: { type: 'bearer', credential: 'GH' },
  });
  api = {
    url: served.url,
    tokens: {
      owner: (await vaults.createAdminToken({ name: 'o', role: 'owner' })).token,
      auditor: (await vaults.createAdminToken({ name: 'a', role: 'auditor' })).token,
      agent: (await vaults.createAgent({ name: 'bot', vaults: ['team'] })).token,
    },
    async close() {
      await served.close();
      await engine.close();
      await vaults.close();
      await cache.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

afterAll(() => api.close());

const evaluate = (body: unknown, token = api.tokens.auditor) =>
  evaluatePolicy(api.url, token, body);

/** The dry-run request of agent `bot` in vault `team`; `extra` adds headers, a body, a service. */
const botRequest = (method: string, url: string, extra: Record<string, unknown> = {}) => ({
  agent: 'bot',
  vault: 'team',
  method,
  url,
  ...extra,
});

const GITHUB_GRAPHQL = 'https://api.github.com/graphql';
const MUTATION = { query: 'mutation { deleteRepository(id: 1) }' };

describe('POST /v1/policy/evaluate', () => {
  it('answers the decision, each policy’s part and the input, for any admin role', async () => {
    const { status, body } = await evaluate(
      botRequest('get', 'https://api.github.com/repos/acme/app?per_page=5', {
        headers: { Authorization: 'Bearer x', 'X-Trace': '1' },
      }),
    );
    expect(status).toBe(200);
    expect(body.decision).toEqual({
      effect: 'Allow',
      reason: 'Policy base (rule reads): Reading is fine.',
      policy: 'base',
      rule: 'reads',
    });
    expect(body.trace.map((t: any) => [t.policy, t.applies, t.effect])).toEqual([
      ['base', true, 'Allow'],
      ['github-no-mutations', true, 'Allow'],
    ]);
    expect(body.input).toMatchObject({
      agent: { name: 'bot', id: null },
      vault: 'team',
      service: { name: 'github' }, // matched like resolveService does
      request: {
        method: 'GET',
        host: 'api.github.com',
        port: 443,
        path: '/repos/acme/app',
        query: { per_page: '5' },
        headers: { authorization: '[REDACTED]', 'x-trace': '1' },
        bodySize: 0,
      },
    });
  });

  it('adds the risk score with its factors, and whether a human would have to approve', async () => {
    const risky = await evaluate(
      botRequest('DELETE', 'https://internal.example.com/admin/users/all'),
    );
    expect(risky.status).toBe(200);
    expect(risky.body.risk).toMatchObject({ provider: 'Internal', applied: true });
    expect(risky.body.risk.score).toBeGreaterThanOrEqual(0.8);
    expect(risky.body.risk.factors.map((f: { name: string }) => f.name)).toEqual(
      expect.arrayContaining(['method', 'path.admin', 'path.bulk']),
    );
    expect(risky.body.approval).toEqual({
      required: true,
      message: expect.stringMatching(
        /^A human must approve this request: .*its risk score 0\.\d\d reaches the threshold 0\.8 because DELETE removes data/,
      ),
    });

    const plain = await evaluate(botRequest('GET', 'https://api.github.com/repos/x/y'));
    expect(plain.body.risk.score).toBeLessThan(0.3);
    expect(plain.body.approval).toEqual({ required: false });
  });

  it('judges a JSON body, and policies scoped to the matched service', async () => {
    const denied = await evaluate(botRequest('POST', GITHUB_GRAPHQL, { body: MUTATION }));
    expect(denied.status).toBe(200); // a dry run answers the decision; it refuses nothing
    expect(denied.body.decision).toMatchObject({
      effect: 'Deny',
      policy: 'github-no-mutations',
      rule: 'no-mutations',
      risk: 0.9,
    });
    expect(denied.body.input.request).toMatchObject({
      headers: { 'content-type': 'application/json' },
      body: MUTATION,
    });
    const elsewhere = await evaluate(
      botRequest('POST', 'https://gitlab.example.com/graphql', { body: MUTATION }),
    );
    expect(elsewhere.body.decision).toMatchObject({ effect: 'Hitl', policy: 'base' });
    expect(elsewhere.body.input.service).toBeNull();
  });

  it('takes the service named by the caller, and refuses a body over the limit', async () => {
    const named = await evaluate(
      botRequest('POST', 'https://gitlab.example.com/graphql', {
        service: 'github',
        body: MUTATION,
      }),
    );
    expect(named.body.decision.effect).toBe('Deny');
    const big = await evaluate(
      botRequest('POST', GITHUB_GRAPHQL, {
        body: { ...MUTATION, padding: 'x'.repeat(2000) },
      }),
    );
    expect(big.body.input.request.body).toBeUndefined();
    expect(big.body.input.request.bodySize).toBeGreaterThan(2000);
    expect(big.body.input.request.bodyUnreadable).toBe('too-large');
    // The rule on body.query cannot judge it: refused, as the gateway would (413).
    expect(big.body.decision).toMatchObject({
      effect: 'Deny',
      rule: 'no-mutations',
      unreadableBody: 'too-large',
    });
  });

  it('refuses a request it cannot judge, naming the field', async () => {
    const base = botRequest('GET', 'https://x.example/');
    const cases: Array<[unknown, string]> = [
      [{ ...base, url: undefined }, 'url'],
      [{ ...base, url: 'not a url' }, 'url'],
      [{ ...base, url: 'ftp://x.example/' }, 'url'],
      [{ ...base, method: 'G T' }, 'method'],
      [{ ...base, headers: { 'x-a': 1 } }, 'headers.x-a'],
      [{ ...base, agent: 7 }, 'agent'],
    ];
    for (const [body, field] of cases) {
      const answer = await evaluate(body);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'VEC_REQUEST_INVALID', field });
    }
  });

  it('is for admin tokens only', async () => {
    const body = botRequest('GET', 'https://x.example/');
    expect((await evaluate(body, 'vec_adm_nope')).status).toBe(401);
    expect((await evaluate(body, api.tokens.agent)).status).toBeGreaterThanOrEqual(401);
    expect((await evaluate(body, api.tokens.owner)).status).toBe(200);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${api.url}/v1/openapi.json`)).json()) as any;
    expect(doc.paths['/v1/policy/evaluate'].post).toBeDefined();
  });
});

describe('vectra policy test --addr', () => {
  async function cli(argv: string[]) {
    const env = { VECTRA_ADMIN_TOKEN: api.tokens.auditor, VECTRA_CONFIG_HOME: tmpdir() };
    const { code, out, err } = runInProcess(argv, env, registerPolicyCommand);
    return { code: await code, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  /** `vectra policy test --addr <api> --agent bot --vault V --method M --url U [extra…]`. */
  const remoteTest = (vault: string, method: string, url: string, ...extra: string[]) =>
    cli([
      'policy',
      'test',
      '--addr',
      api.url,
      '--agent',
      'bot',
      '--vault',
      vault,
      '--method',
      method,
      '--url',
      url,
      ...extra,
    ]);

  it('asks the gateway and prints its decision', async () => {
    const dir = tempDir('vectra-body-');
    const file = join(dir, 'mutation.json');
    writeFileSync(file, JSON.stringify(MUTATION));
    const result = await remoteTest('team', 'POST', GITHUB_GRAPHQL, '--body', file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('decision: Deny');
    expect(result.stdout).toContain('policy:   github-no-mutations');
    expect(result.stdout).toContain('rule:     no-mutations');
    expect(result.stdout).toContain(
      'reason:   Policy github-no-mutations (rule no-mutations): GraphQL mutations are not allowed on GitHub.',
    );
    // Denied: nothing after the policies runs, so no score and no approval.
    expect(result.stdout).not.toContain('score:');
    expect(result.stdout).not.toContain('approval:');
  });

  it("prints the gateway's risk score and approval verdict", async () => {
    const result = await remoteTest('team', 'GET', 'https://api.github.com/repos/x/y');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('decision: Allow');
    expect(result.stdout).toContain('score:    0.05 (Internal risk scoring)');
    expect(result.stdout).toContain('  - method 0.05: GET only reads');
    expect(result.stdout).toContain('approval: not needed');
  });

  it('prints the gateway’s refusal with its code', async () => {
    const result = await remoteTest('nope', 'GET', 'https://api.github.com/');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[VEC_VAULT_NOT_FOUND\]/);
  });
});

describe('GET /v1/policies', () => {
  it('lists the policies in force with their rules, for any admin role, without server paths', async () => {
    const res = await fetch(`${api.url}/v1/policies`, {
      headers: { authorization: `Bearer ${api.tokens.auditor}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.provider).toBe('Internal');
    const byName = Object.fromEntries(body.policies.map((p: any) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['base', 'github-no-mutations']);
    expect(byName.base).toMatchObject({ file: 'base.json', enabled: true, defaultEffect: 'Hitl' });
    expect(byName.base.rules).toEqual([
      expect.objectContaining({ name: 'reads', effect: 'Allow', priority: 10 }),
    ]);
    expect(byName.base.rules[0].reason).toContain('Reading is fine');
    expect(byName['github-no-mutations']).toMatchObject({
      description: 'GraphQL mutations to GitHub are refused.',
      appliesTo: { services: ['github'] },
      rules: [expect.objectContaining({ name: 'no-mutations', effect: 'Deny', risk: 0.9 })],
    });
    expect(JSON.stringify(body)).not.toContain(tmpdir());
    const agent = await fetch(`${api.url}/v1/policies`, {
      headers: { authorization: `Bearer ${api.tokens.agent}` },
    });
    expect(agent.status).toBe(403);
  });
});
