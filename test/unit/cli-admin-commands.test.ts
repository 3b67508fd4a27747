/**
 * The admin commands run in-process against a fake `fetch`: what each sends, what it prints,
 * and its exit code. The built CLI against a real gateway is test/integration/cli-admin.test.ts.
 */
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { registerAdminCommands } from '../../src/cli/admin-commands';
import { readLogin } from '../../src/client/login-store';
import { runInProcess } from '../helpers/in-process-cli';
import { tempDir } from '../helpers/temp-dir';

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: any;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

/** A fake gateway: records requests, answers from `routes` ("METHOD /path" → answer). */
function fakeFetch(routes: Record<string, Answer | ((sent: Sent) => Answer)>) {
  const sent: Sent[] = [];
  const fetchFn = (async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const request: Sent = {
      method: init.method ?? 'GET',
      url: String(input),
      headers: init.headers as Record<string, string>,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    sent.push(request);
    const route = routes[`${request.method} ${url.pathname}${url.search}`];
    const answer = typeof route === 'function' ? route(request) : route;
    if (!answer) return new Response('no route', { status: 599 });
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers },
    });
  }) as typeof globalThis.fetch;
  return { fetch: fetchFn, sent };
}

/** Like `main()`: the exit code and what was printed. */
async function run(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; fetch?: typeof fetch; stdin?: string } = {},
) {
  const { code, out, err } = runInProcess(argv, options.env ?? {}, (program, ctx) =>
    registerAdminCommands(program, ctx, {
      fetch: options.fetch,
      stdin: options.stdin === undefined ? undefined : Readable.from([options.stdin]),
    }),
  );
  return { code: await code, stdout: out.join(''), stderr: err.join('\n') };
}

const ADDR = 'http://gw.test:7080';
const TOKEN = 'vec_adm_test-token';
const env = (extra: NodeJS.ProcessEnv = {}) => ({
  HOME: tempDir('vectra-home-'),
  VECTRA_ADDR: ADDR,
  VECTRA_ADMIN_TOKEN: TOKEN,
  ...extra,
});
const vault = {
  id: 'v1',
  name: 'default',
  unmatchedHosts: 'deny',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
};
const agent = {
  id: 'a1',
  name: 'bot',
  vaults: ['default'],
  createdAt: vault.createdAt,
  rotatedAt: null,
};

describe('admin commands: requests, output, exit codes', () => {
  it('vault list: GET /v1/vaults with the admin token, a table', async () => {
    const gw = fakeFetch({ 'GET /v1/vaults': { status: 200, body: { vaults: [vault] } } });
    const res = await run(['vault', 'list'], { env: env(), fetch: gw.fetch });
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toMatch(/^NAME\s+UNMATCHED HOSTS\s+CREATED\s+UPDATED\ndefault\s+deny\s+/);
    expect(gw.sent[0]).toMatchObject({
      method: 'GET',
      url: `${ADDR}/v1/vaults`,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
  });

  it('--json prints the API answer', async () => {
    const gw = fakeFetch({ 'GET /v1/vaults': { status: 200, body: { vaults: [vault] } } });
    const res = await run(['vault', 'list', '--json'], { env: env(), fetch: gw.fetch });
    expect(JSON.parse(res.stdout)).toEqual({ vaults: [vault] });
  });

  it('--addr wins over VECTRA_ADDR; names are escaped in paths', async () => {
    const gw = fakeFetch({});
    await run(['vault', 'show', 'a/b', '--addr', 'http://other:1/'], {
      env: env(),
      fetch: gw.fetch,
    });
    expect(gw.sent[0].url).toBe('http://other:1/v1/vaults/a%2Fb');
  });

  it('no address anywhere: one line, exit 2', async () => {
    const res = await run(['vault', 'list'], { env: { HOME: env().HOME } });
    expect(res).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vectra: no gateway address: pass --addr or run `vectra auth login --addr URL`',
    });
  });

  it('a gateway refusal: `vectra: <message> [<code>]`, exit 1', async () => {
    const gw = fakeFetch({
      'GET /v1/vaults/nope': {
        status: 404,
        body: {
          error: 'Vault not found',
          code: 'VEC_VAULT_NOT_FOUND',
          message: 'No vault named "nope"; see GET /v1/vaults.',
          statusCode: 404,
        },
      },
    });
    const res = await run(['vault', 'show', 'nope'], { env: env(), fetch: gw.fetch });
    expect(res).toEqual({
      code: 1,
      stdout: '',
      stderr: 'vectra: No vault named "nope"; see GET /v1/vaults. [VEC_VAULT_NOT_FOUND]',
    });
  });

  it('a 400 names the field when the message does not', async () => {
    const gw = fakeFetch({
      'POST /v1/vaults/default/services': {
        status: 400,
        body: { code: 'VEC_REQUEST_INVALID', message: 'Not a valid pattern.', field: 'host' },
      },
    });
    const res = await run(['service', 'add', 's', '--host', 'bad host', '--auth', 'passthrough'], {
      env: env(),
      fetch: gw.fetch,
    });
    expect(res.stderr).toBe('vectra: Not a valid pattern. (field: host) [VEC_REQUEST_INVALID]');
    expect(res.code).toBe(1);
  });

  it('service add --scheme and service update send the scheme; update needs a flag', async () => {
    const service = { name: 's', host: 'wiki.internal:8080', scheme: 'http' };
    const gw = fakeFetch({
      'POST /v1/vaults/default/services': { status: 201, body: { service } },
      'PATCH /v1/vaults/default/services/s': { status: 200, body: { service } },
    });
    const options = { env: env(), fetch: gw.fetch };
    const add = await run(
      [
        'service',
        'add',
        's',
        '--host',
        'wiki.internal:8080',
        '--scheme',
        'http',
        '--auth',
        'passthrough',
      ],
      options,
    );
    expect(add).toMatchObject({ code: 0, stderr: '' });
    const update = await run(['service', 'update', 's', '--scheme', 'https'], options);
    expect(update).toMatchObject({ code: 0, stdout: 'updated service s in vault default' });
    expect(gw.sent.map((s) => [s.method, s.body])).toEqual([
      [
        'POST',
        {
          name: 's',
          host: 'wiki.internal:8080',
          scheme: 'http',
          auth: { type: 'passthrough' },
          enabled: true,
        },
      ],
      ['PATCH', { scheme: 'https' }],
    ]);
    // Without --scheme, add leaves the default (https) to the gateway.
    await run(['service', 'add', 't', '--host', 'a.example', '--auth', 'passthrough'], options);
    expect(gw.sent[2].body.scheme).toBeUndefined();
    const nothing = await run(['service', 'update', 's'], options);
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toContain('--host or --scheme');
    const bad = await run(
      ['service', 'add', 'u', '--host', 'a.example', '--scheme', 'ftp', '--auth', 'passthrough'],
      options,
    );
    expect(bad.code).not.toBe(0);
    expect(gw.sent).toHaveLength(3);
  });

  it('an unknown server error code is still printed as one line', async () => {
    const gw = fakeFetch({
      'GET /v1/agents': { status: 418, body: { code: 'VEC_FUTURE_THING', message: 'Newer.' } },
    });
    const res = await run(['agent', 'list'], { env: env(), fetch: gw.fetch });
    expect(res).toMatchObject({ code: 1, stderr: 'vectra: Newer. [VEC_FUTURE_THING]' });
  });

  it('a non-Vectra answer or a redirect is an error naming the address; the redirect is not followed', async () => {
    const gw = fakeFetch({
      'GET /v1/agents': { status: 502, body: 'bad gateway' },
      'GET /v1/vaults': { status: 307, headers: { location: 'https://evil.test/v1/vaults' } },
    });
    const html = await run(['agent', 'list'], { env: env(), fetch: gw.fetch });
    expect(html.code).toBe(1);
    expect(html.stderr).toContain(`${ADDR} answered GET /v1/agents with HTTP 502`);
    const redirect = await run(['vault', 'list'], { env: env(), fetch: gw.fetch });
    expect(redirect.code).toBe(1);
    expect(redirect.stderr).toContain('answered 307 redirecting to https://evil.test/v1/vaults');
    expect(gw.sent.map((s) => s.url)).not.toContain('https://evil.test/v1/vaults');
  });

  it('connection refused: VEC_CLI_UNREACHABLE naming the address, exit 1', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const res = await run(['vault', 'list', '--addr', `http://127.0.0.1:${port}`], { env: env() });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `vectra: no answer from http://127.0.0.1:${port} (ECONNREFUSED); check --addr and that \`vectra serve\` runs there [VEC_CLI_UNREACHABLE]`,
    );
  });
});

describe('credential set: the value never on argv, never printed', () => {
  const secret = 'sk-planted-9f8e7d6c';
  const setAnswer = {
    status: 200,
    body: { credential: { key: 'OPENAI', createdAt: vault.createdAt, updatedAt: vault.createdAt } },
  };

  it('--value-stdin sends stdin (one newline dropped) and prints only the key', async () => {
    const gw = fakeFetch({ 'PUT /v1/vaults/prod/credentials/OPENAI': setAnswer });
    for (const json of [[], ['--json']]) {
      const res = await run(
        ['credential', 'set', 'OPENAI', '--vault', 'prod', '--value-stdin', ...json],
        {
          env: env(),
          fetch: gw.fetch,
          stdin: `${secret}\n`,
        },
      );
      expect(res.code).toBe(0);
      expect(res.stdout + res.stderr).not.toContain(secret);
    }
    expect(gw.sent[0].body).toEqual({ value: secret });
  });

  it('VECTRA_CREDENTIAL_VALUE works too; --vault defaults to default', async () => {
    const gw = fakeFetch({ 'PUT /v1/vaults/default/credentials/OPENAI': setAnswer });
    const res = await run(['credential', 'set', 'OPENAI'], {
      env: env({ VECTRA_CREDENTIAL_VALUE: secret }),
      fetch: gw.fetch,
    });
    expect(res).toMatchObject({ code: 0, stdout: 'set credential OPENAI in vault default' });
    expect(gw.sent[0].body).toEqual({ value: secret });
  });

  it.each([
    [['credential', 'set', 'OPENAI', secret], 'too many arguments'],
    [['credential', 'set', 'OPENAI', '--value', secret], "unknown option '--value'"],
  ])('a value on argv is a usage error, nothing sent: %j', async (argv, message) => {
    const gw = fakeFetch({});
    const res = await run(argv, { env: env(), fetch: gw.fetch });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(gw.sent).toEqual([]);
  });

  it.each([
    [[], {}, 'no value: pipe it with --value-stdin, or set VECTRA_CREDENTIAL_VALUE'],
    [['--value-stdin'], { stdin: '' }, 'the credential value on stdin is empty'],
    [['--value-stdin'], { stdin: 'a\nb\n' }, 'the credential value has more than one line'],
  ])('%j %j: exit 2', async (flags, extra, message) => {
    const gw = fakeFetch({});
    const res = await run(['credential', 'set', 'K', ...flags], {
      env: env(),
      fetch: gw.fetch,
      ...extra,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`vectra: ${message}`);
    expect(gw.sent).toEqual([]);
  });

  it('--help says why there is no value argument', async () => {
    const res = await run(['credential', 'set', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('never accepted as a command-line argument');
    expect(res.stdout).toContain('--value-stdin');
  });
});

describe('tokens: shown once, capturable', () => {
  const minted = { status: 201, body: { agent, token: 'vec_agt_minted' } };

  it('agent create --token-only: just the token on stdout, nothing on stderr', async () => {
    const gw = fakeFetch({ 'POST /v1/agents': minted });
    const res = await run(
      ['agent', 'create', 'bot', '--vault', 'default', '--vault', 'prod', '--token-only'],
      {
        env: env(),
        fetch: gw.fetch,
      },
    );
    expect(res).toEqual({ code: 0, stdout: 'vec_agt_minted', stderr: '' });
    expect(gw.sent[0].body).toEqual({ name: 'bot', vaults: ['default', 'prod'] });
  });

  it('agent create: the token with a warning on stderr that it will not be shown again', async () => {
    const gw = fakeFetch({ 'POST /v1/agents': minted });
    const res = await run(['agent', 'create', 'bot'], { env: env(), fetch: gw.fetch });
    expect(res.stdout).toBe('created agent bot (vaults: default)\ntoken: vec_agt_minted');
    expect(res.stderr).toBe('save this token now: it will not be shown again');
  });

  it('--token-only and --json conflict', async () => {
    const res = await run(['agent', 'rotate', 'bot', '--token-only', '--json'], { env: env() });
    expect(res.code).toBe(2);
  });

  it('vault token: --ttl in seconds, only the token on stdout', async () => {
    const gw = fakeFetch({
      'POST /v1/vaults/prod/sessions': {
        status: 201,
        body: {
          session: { id: 's1', vault: 'prod', agent: null, expiresAt: 'later', createdAt: 'now' },
          token: 'vec_sess_x',
        },
      },
    });
    const res = await run(['vault', 'token', '--vault', 'prod', '--ttl', '1h'], {
      env: env(),
      fetch: gw.fetch,
    });
    expect(res).toMatchObject({ code: 0, stdout: 'vec_sess_x' });
    expect(gw.sent[0].body).toEqual({ ttlSeconds: 3600 });
  });

  it('vault token --ttl 1x: usage error, exit 2', async () => {
    const res = await run(['vault', 'token', '--ttl', '1x'], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("option '--ttl <duration>' argument '1x' is invalid");
  });
});

describe('auth login|status|logout', () => {
  const vaults = { 'GET /v1/vaults': { status: 200, body: { vaults: [vault] } } };

  it('login --token-stdin checks the token, saves it 0600 and never prints it', async () => {
    const home = tempDir('vectra-home-');
    const gw = fakeFetch(vaults);
    const res = await run(['auth', 'login', '--addr', `${ADDR}/`, '--token-stdin'], {
      env: { HOME: home },
      fetch: gw.fetch,
      stdin: `${TOKEN}\nsecond line ignored\n`,
    });
    expect(res).toEqual({ code: 0, stdout: `logged in to ${ADDR}`, stderr: '' });
    expect(gw.sent[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(readLogin({ HOME: home })).toEqual({ addr: ADDR, token: TOKEN });
    expect(statSync(join(home, '.vectra', 'login.json')).mode & 0o777).toBe(0o600);

    const status = await run(['auth', 'status'], { env: { HOME: home }, fetch: gw.fetch });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`gateway  ${ADDR} (from saved login)`);
    expect(status.stdout).toContain('ok, the token is accepted (1 vault)');
    expect(status.stdout + status.stderr).not.toContain(TOKEN);
    expect(gw.sent[1].headers.authorization).toBe(`Bearer ${TOKEN}`);

    const logout = await run(['auth', 'logout'], { env: { HOME: home } });
    expect(logout).toMatchObject({ code: 0, stdout: `logged out of ${ADDR}` });
    expect(readLogin({ HOME: home })).toBeUndefined();
  });

  it('login with a refused token saves nothing, exit 1', async () => {
    const home = tempDir('vectra-home-');
    const gw = fakeFetch({
      'GET /v1/vaults': {
        status: 401,
        body: { code: 'VEC_AUTH_TOKEN_REJECTED', message: 'Rejected.' },
      },
    });
    const res = await run(['auth', 'login', '--addr', ADDR], {
      env: { HOME: home, VECTRA_ADMIN_TOKEN: TOKEN },
      fetch: gw.fetch,
    });
    expect(res).toMatchObject({ code: 1, stderr: 'vectra: Rejected. [VEC_AUTH_TOKEN_REJECTED]' });
    expect(readLogin({ HOME: home })).toBeUndefined();
  });

  it('login refuses a token that is not an admin token, before any request', async () => {
    const gw = fakeFetch(vaults);
    const res = await run(['auth', 'login', '--addr', ADDR, '--token-stdin'], {
      env: { HOME: env().HOME },
      fetch: gw.fetch,
      stdin: 'vec_agt_oops\n',
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe('vectra: that is not an admin token (they start with vec_adm_)');
    expect(res.stderr).not.toContain('vec_agt_oops');
    expect(gw.sent).toEqual([]);
  });

  it('status when not logged in: exit 1 with what to do', async () => {
    const res = await run(['auth', 'status'], { env: { HOME: env().HOME } });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('not logged in: no gateway address');
  });
});
