/** The commander wiring of `vectra run`, in-process, with a fake gateway (fetch) and a real child. */
import { Command, CommanderError } from 'commander';
import type { CommandContext } from '../../src/cli/command-context';
import { registerRunCommand } from '../../src/cli/run-command';
import { selfSignedCertificate } from '../helpers/certificates';
import { tempDir } from '../helpers/temp-dir';

const CA = selfSignedCertificate('Vectra Test CA').certPem;
const ADDR = 'http://gw.example:7080';

interface FakeGateway {
  /** Status of /discover (200 by default). */
  discoverStatus?: number;
  /** `/discover`'s `proxy` field; left out when undefined, as older gateways do. */
  proxy?: unknown;
}

/** Answers /discover, /v1/ca.pem and session minting like a gateway; records what was asked. */
function fakeGateway({ discoverStatus = 200, proxy }: FakeGateway = {}) {
  const calls: Array<{ method: string; url: string; headers: Record<string, string> }> = [];
  const fetchImpl = (async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    calls.push({ method, url, headers: (init.headers ?? {}) as Record<string, string> });
    if (url.endsWith('/v1/ca.pem')) return new Response(CA);
    if (url.endsWith('/discover') && discoverStatus !== 200) {
      const body = { error: 'Unauthorized', code: 'VEC_AUTH_TOKEN_REJECTED', message: 'no' };
      return Response.json({ ...body, statusCode: discoverStatus }, { status: discoverStatus });
    }
    if (url.endsWith('/discover')) {
      const answer = { vault: 'shop', services: [], available_credentials: [] };
      return Response.json(proxy === undefined ? answer : { ...answer, proxy });
    }
    if (method === 'POST' && url.endsWith('/v1/vaults/shop/sessions')) {
      return Response.json(
        { session: { id: 's1', vault: 'shop' }, token: 'vec_sess_tok' },
        {
          status: 201,
        },
      );
    }
    return new Response('', { status: 404 });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

async function run(args: string[], env: NodeJS.ProcessEnv, fake: FakeGateway = {}) {
  const gateway = fakeGateway(fake);
  let out = '';
  let err = '';
  let childOut = '';
  const ctx: CommandContext = {
    io: { out: (t) => (out += t), err: (t) => (err += `${t}\n`) },
    env,
    version: 'test',
    exitCode: 0,
  };
  // A program of its own (not buildProgram), so that the fakes are used once main.ts registers run.
  const program = new Command('vectra')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  registerRunCommand(program, ctx, {
    fetch: gateway.fetchImpl,
    child: {
      stdio: ['ignore', 'pipe', 'inherit'],
      terminal: false,
      onSpawn: (child) => child.stdout!.on('data', (d: Buffer) => (childOut += d.toString())),
    },
  });
  let thrown: unknown;
  try {
    await program.parseAsync(['run', ...args], { from: 'user' });
  } catch (e) {
    thrown = e;
  }
  return { exitCode: ctx.exitCode, out, err, childOut, thrown, calls: gateway.calls };
}

const PRINT = [
  '--',
  process.execPath,
  '-e',
  'console.log(JSON.stringify({ proxy: process.env.HTTPS_PROXY, noProxy: process.env.NO_PROXY, addr: process.env.VECTRA_ADDR }))',
];
const agentEnv = { PATH: process.env.PATH, VECTRA_TOKEN: 'vec_agt_tok', VECTRA_VAULT: 'shop' };
/** Local mode: the admin token from the environment, no saved login. */
const localEnv = () => ({
  PATH: process.env.PATH,
  VECTRA_ADMIN_TOKEN: 'vec_adm_tok',
  VECTRA_CONFIG_HOME: tempDir('vectra-home-'),
});
const childProxy = (childOut: string): string => JSON.parse(childOut).proxy;

describe('vectra run: command line', () => {
  it('names the address option --addr, like every other command, and hides --address', async () => {
    const result = await run(['--help'], agentEnv);
    expect(result.out).toMatch(/^ {2}--addr <url> +gateway API address/m);
    expect(result.out).not.toContain('--address');
  });

  it('reads --addr (or its hidden old spelling --address), --proxy and repeated --no-proxy', async () => {
    for (const flag of ['--addr', '--address']) {
      const result = await run(
        [
          flag,
          ADDR,
          '--proxy',
          'http://proxy.example:9000',
          '--no-proxy',
          'a.corp,b.corp',
          '--no-proxy',
          'c.corp',
          ...PRINT,
        ],
        agentEnv,
      );
      expect(result.err).toBe('');
      expect(result.exitCode).toBe(0);
      expect(JSON.parse(result.childOut)).toEqual({
        proxy: 'http://vec_agt_tok:shop@proxy.example:9000',
        noProxy: 'localhost,127.0.0.1,::1,gw.example,a.corp,b.corp,c.corp',
        addr: ADDR,
      });
    }
  });

  it('checks the agent token once against /discover with Bearer and X-Vault, then fetches the CA without it', async () => {
    const result = await run(['--addr', ADDR, ...PRINT], agentEnv);
    expect(result.calls.map((c) => c.url)).toEqual([`${ADDR}/discover`, `${ADDR}/v1/ca.pem`]);
    expect(result.calls[0].headers).toMatchObject({
      authorization: 'Bearer vec_agt_tok',
      'x-vault': 'shop',
    });
    expect(JSON.stringify(result.calls[1].headers)).not.toContain('vec_agt_tok');
  });

  it('prints the refusal and a hint, and exits 1, when the gateway rejects the token', async () => {
    const result = await run(['--addr', ADDR, ...PRINT], agentEnv, { discoverStatus: 401 });
    expect(result.err.split('\n')[0]).toBe('vectra: agent token rejected by gateway (HTTP 401)');
    expect(result.err).toMatch(/^hint: the gateway said: no\. Check with: curl/m);
    expect(result.exitCode).toBe(1);
    expect(result.childOut).toBe('');
    expect(result.calls).toHaveLength(1);
  });

  it('usage errors print one line and a hint, and exit 2', async () => {
    const result = await run(['--addr', ADDR, '--ttl', '1h', ...PRINT], agentEnv);
    expect(result.err).toBe(
      'vectra: --ttl has no effect when VECTRA_TOKEN is supplied\n' +
        'hint: drop --ttl: it only applies when `vectra run` mints a session token\n',
    );
    expect(result.exitCode).toBe(2);
    expect(result.calls).toEqual([]);
  });

  it('a malformed --ttl is a commander usage error', async () => {
    const result = await run(['--ttl', 'forever', ...PRINT], {});
    expect(result.thrown).toBeInstanceOf(CommanderError);
    expect(result.err).toContain('"forever" is not a duration');
  });
});

describe('vectra run: the proxy the gateway advertises', () => {
  it('agent mode: uses the port in /discover with the API host, without another request', async () => {
    const result = await run(['--addr', ADDR, ...PRINT], agentEnv, { proxy: { port: 7444 } });
    expect(result.err).toBe('');
    expect(result.exitCode).toBe(0);
    expect(childProxy(result.childOut)).toBe('http://vec_agt_tok:shop@gw.example:7444');
    expect(result.calls.map((c) => c.url)).toEqual([`${ADDR}/discover`, `${ADDR}/v1/ca.pem`]);
  });

  it('agent mode: a gateway that does not advertise it means port 7081', async () => {
    const result = await run(['--addr', ADDR, ...PRINT], agentEnv);
    expect(result.exitCode).toBe(0);
    expect(childProxy(result.childOut)).toBe('http://vec_agt_tok:shop@gw.example:7081');
  });

  it('agent mode: VECTRA_PROXY, then --proxy, win over the advertised port', async () => {
    const env = { ...agentEnv, VECTRA_PROXY: 'http://env-proxy:9000' };
    const fromEnv = await run(['--addr', ADDR, ...PRINT], env, { proxy: { port: 7444 } });
    expect(childProxy(fromEnv.childOut)).toBe('http://vec_agt_tok:shop@env-proxy:9000');
    const fromFlag = await run(
      ['--addr', ADDR, '--proxy', 'http://flag-proxy:8000', ...PRINT],
      env,
      { proxy: { port: 7444 } },
    );
    expect(childProxy(fromFlag.childOut)).toBe('http://vec_agt_tok:shop@flag-proxy:8000');
  });

  it('local mode: after minting, asks /discover with the session token for the port', async () => {
    const result = await run(['--addr', ADDR, '--vault', 'shop', ...PRINT], localEnv(), {
      proxy: { port: 7444 },
    });
    expect(result.err).toBe('');
    expect(result.exitCode).toBe(0);
    expect(childProxy(result.childOut)).toBe('http://vec_sess_tok:shop@gw.example:7444');
    expect(result.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      `GET ${ADDR}/v1/ca.pem`,
      `POST ${ADDR}/v1/vaults/shop/sessions`,
      `GET ${ADDR}/discover`,
    ]);
    expect(result.calls[1].headers).toMatchObject({ authorization: 'Bearer vec_adm_tok' });
    expect(result.calls[2].headers).toMatchObject({
      authorization: 'Bearer vec_sess_tok',
      'x-vault': 'shop',
    });
  });

  it('local mode: a gateway that does not advertise it means port 7081', async () => {
    const result = await run(['--addr', ADDR, '--vault', 'shop', ...PRINT], localEnv());
    expect(result.exitCode).toBe(0);
    expect(childProxy(result.childOut)).toBe('http://vec_sess_tok:shop@gw.example:7081');
  });

  it('local mode: with --proxy or VECTRA_PROXY, /discover is not asked', async () => {
    for (const [args, env] of [
      [['--proxy', 'http://flag-proxy:8000'], localEnv()],
      [[], { ...localEnv(), VECTRA_PROXY: 'http://env-proxy:9000' }],
    ] as const) {
      const result = await run(['--addr', ADDR, '--vault', 'shop', ...args, ...PRINT], env, {
        proxy: { port: 7444 },
      });
      expect(result.exitCode).toBe(0);
      expect(childProxy(result.childOut)).toMatch(/@(flag|env)-proxy:(8000|9000)$/);
      expect(result.calls.map((c) => c.url)).not.toContain(`${ADDR}/discover`);
    }
  });
});
