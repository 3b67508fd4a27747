/**
 * The built `vectra` CLI against a real gateway, as a new user would go: log in with the
 * bootstrap token, create a vault, a credential, a service and an agent, call `/discover` with
 * the agent token (curl), rotate the agent and see the old token refused. Along the way: exit
 * codes, one-line errors, and that no command ever prints a credential value.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Gateway } from '../../src/gateway';
import { startCli, type CliResult } from '../helpers/cli';
import { startTestGateway } from '../helpers/gateway';
import { freePort } from '../helpers/waiting-and-processes';
import { tempDir } from '../helpers/temp-dir';

// Each step spawns the CLI (about a second each on a busy machine).
jest.setTimeout(120_000);

const SECRET = `sk-planted-${randomBytes(12).toString('hex')}`;
const OWNER_TOKEN = `vec_adm_${randomBytes(32).toString('base64url')}`;

/** Every CLI output of this file, checked at the end for the planted secret. */
const outputs: string[] = [];

/** runCli with stdin (always closed, so nothing waits on it) and HOME in a temp dir. */
function cli(
  args: string[],
  options: { home: string; stdin?: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  const child = startCli(args, { env: { HOME: options.home, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `curl /discover` with an agent or session token: status and parsed body. */
async function discover(gateway: Gateway, token: string): Promise<{ status: number; body: any }> {
  const { stdout } = await promisify(execFile)('curl', [
    '-sS',
    '-w',
    '\n%{http_code}',
    '-H',
    `Authorization: Bearer ${token}`,
    `${gateway.urls.http}/discover`,
  ]);
  const lines = stdout.split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) };
}

describe('vectra CLI against a real gateway', () => {
  let gateway: Gateway;
  let home: string;
  let addr: string;
  const run = (args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}) =>
    cli(args, { home, ...options });

  beforeAll(async () => {
    gateway = await startTestGateway({ Security__Admin__BootstrapToken: OWNER_TOKEN });
    addr = gateway.urls.http;
    home = tempDir('vectra-home-');
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('login, vault, credential, service, agent, /discover, rotate: the new-user path', async () => {
    const login = await run(['auth', 'login', '--addr', addr, '--token-stdin'], {
      stdin: `${OWNER_TOKEN}\n`,
    });
    expect(login).toEqual({ code: 0, stdout: `logged in to ${addr}\n`, stderr: '' });
    expect(statSync(join(home, '.vectra')).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, '.vectra', 'login.json')).mode & 0o777).toBe(0o600);

    expect(await run(['vault', 'create', 'prod', '--unmatched', 'deny'])).toMatchObject({
      code: 0,
      stdout: 'created vault prod (unmatched hosts: deny)\n',
    });
    const set = await run(['credential', 'set', 'OPENAI_KEY', '--vault', 'prod', '--value-stdin'], {
      stdin: `${SECRET}\n`,
    });
    expect(set).toMatchObject({ code: 0, stdout: 'set credential OPENAI_KEY in vault prod\n' });
    const add = await run([
      'service',
      'add',
      'openai',
      '--vault',
      'prod',
      '--host',
      'api.openai.com',
      '--auth',
      'bearer',
      '--credential',
      'OPENAI_KEY',
    ]);
    expect(add).toMatchObject({ code: 0, stdout: 'added service openai to vault prod\n' });

    const created = await run(['agent', 'create', 'bot', '--vault', 'prod', '--token-only']);
    expect(created.code).toBe(0);
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(/^vec_agt_[A-Za-z0-9_-]{43}\n$/);
    const oldToken = created.stdout.trim();

    expect(await discover(gateway, oldToken)).toEqual({
      status: 200,
      body: {
        vault: 'prod',
        services: [{ name: 'openai', host: 'api.openai.com', scheme: 'https', port: 443 }],
        available_credentials: ['OPENAI_KEY'],
        proxy: { port: Number(new URL(gateway.urls.proxy).port) },
      },
    });

    const rotated = await run(['agent', 'rotate', 'bot']);
    expect(rotated.code).toBe(0);
    expect(rotated.stderr).toContain('will not be shown again');
    const newToken = /token: (vec_agt_\S+)/.exec(rotated.stdout)![1];
    expect(newToken).not.toBe(oldToken);
    expect((await discover(gateway, oldToken)).status).toBe(401);
    expect((await discover(gateway, newToken)).status).toBe(200);
  });

  it('lists, shows and JSON output; disable hides a service from /discover', async () => {
    const vaults = await run(['vault', 'list']);
    expect(vaults.stdout).toMatch(/^NAME\s+UNMATCHED HOSTS/);
    expect(vaults.stdout).toMatch(/\ndefault\s+/);
    expect(vaults.stdout).toMatch(/\nprod\s+deny\s+/);

    const credentials = JSON.parse(
      (await run(['credential', 'list', '--vault', 'prod', '--json'])).stdout,
    );
    expect(credentials.credentials.map((c: any) => c.key)).toEqual(['OPENAI_KEY']);
    expect(Object.keys(credentials.credentials[0]).sort()).toEqual([
      'createdAt',
      'key',
      'updatedAt',
    ]);

    const services = await run(['service', 'list', '--vault', 'prod']);
    expect(services.stdout).toMatch(
      /openai\s+api\.openai\.com\s+https\s+443\s+bearer \{\{ OPENAI_KEY \}\}\s+yes/,
    );
    expect(
      JSON.parse((await run(['service', 'show', 'openai', '--vault', 'prod', '--json'])).stdout),
    ).toMatchObject({ service: { name: 'openai', enabled: true, auth: { type: 'bearer' } } });

    expect((await run(['service', 'disable', 'openai', '--vault', 'prod'])).code).toBe(0);
    const agent = (await run(['agent', 'rotate', 'bot', '--token-only'])).stdout.trim();
    expect((await discover(gateway, agent)).body.services).toEqual([]);
    expect((await run(['service', 'enable', 'openai', '--vault', 'prod'])).code).toBe(0);
    expect((await discover(gateway, agent)).body.services).toHaveLength(1);

    expect(JSON.parse((await run(['agent', 'show', 'bot', '--json'])).stdout).agent).toMatchObject({
      name: 'bot',
      vaults: ['prod'],
    });
    const granted = await run(['agent', 'grant', 'bot', '--vault', 'default']);
    expect(granted.stdout).toBe('agent bot now has vaults: default, prod\n');
    expect((await run(['agent', 'revoke', 'bot', '--vault', 'default'])).stdout).toBe(
      'agent bot now has vaults: prod\n',
    );
    expect((await run(['vault', 'update', 'prod', '--unmatched', 'passthrough'])).code).toBe(0);
    expect(JSON.parse((await run(['vault', 'show', 'prod', '--json'])).stdout).vault).toMatchObject(
      { unmatchedHosts: 'passthrough' },
    );
  });

  it('vault token mints a session token usable for /discover', async () => {
    const minted = await run(['vault', 'token', '--vault', 'prod', '--ttl', '5m']);
    expect(minted.code).toBe(0);
    expect(minted.stdout).toMatch(/^vec_sess_[A-Za-z0-9_-]{43}\n$/);
    const answer = await discover(gateway, minted.stdout.trim());
    expect(answer).toMatchObject({ status: 200, body: { vault: 'prod' } });
  });

  it('admin tokens: create with a role, list without tokens, the role is enforced, revoke', async () => {
    const created = await run(['admin-token', 'create', 'ci', '--role', 'auditor', '--json']);
    const { adminToken, token } = JSON.parse(created.stdout);
    expect(token).toMatch(/^vec_adm_/);
    const list = await run(['admin-token', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${adminToken.id}\\s+ci\\s+auditor`));
    expect(list.stdout).not.toContain(token);

    const asAuditor = { env: { VECTRA_ADMIN_TOKEN: token } };
    expect((await run(['vault', 'list'], asAuditor)).code).toBe(0);
    const refused = await run(['vault', 'create', 'nope'], asAuditor);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^vectra: .+ \[VEC_AUTH_FORBIDDEN\]\n$/);

    expect((await run(['admin-token', 'revoke', adminToken.id])).code).toBe(0);
    const revoked = await run(['vault', 'list'], asAuditor);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain('[VEC_AUTH_TOKEN_REJECTED]');
  });

  it('errors: one line with the code, exit 1; usage errors exit 2', async () => {
    const missing = await run(['vault', 'show', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^vectra: .+ \[VEC_VAULT_NOT_FOUND\]\n$/);
    const duplicate = await run(['vault', 'create', 'prod']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/^vectra: .+ \[VEC_RESOURCE_CONFLICT\]\n$/);
    const badHost = await run([
      'service',
      'add',
      'x',
      '--vault',
      'prod',
      '--host',
      'a b',
      '--auth',
      'passthrough',
    ]);
    expect(badHost.code).toBe(1);
    expect(badHost.stderr).toMatch(/^vectra: .+ \[VEC_REQUEST_INVALID\]\n$/);

    expect(
      (await run(['service', 'add', 'x', '--host', 'h.example', '--auth', 'bearer'])).code,
    ).toBe(2);
    expect((await run(['vault', 'token', '--ttl', '2weeks'])).code).toBe(2);
    const noAddr = await cli(['vault', 'list'], {
      home: tempDir('vectra-home-'),
    });
    expect(noAddr).toMatchObject({
      code: 2,
      stderr: 'vectra: no gateway address: pass --addr or run `vectra auth login --addr URL`\n',
    });
    const port = await freePort();
    const unreachable = await run(['vault', 'list', '--addr', `http://127.0.0.1:${port}`], {
      env: { VECTRA_ADMIN_TOKEN: OWNER_TOKEN },
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(
      `vectra: no answer from http://127.0.0.1:${port} (ECONNREFUSED); check --addr and that \`vectra serve\` runs there [VEC_CLI_UNREACHABLE]\n`,
    );
  });

  it('credential set refuses a value on argv (exit 2) and sends nothing', async () => {
    const other = `${SECRET}-argv`;
    const positional = await run(['credential', 'set', 'ARGV_KEY', '--vault', 'prod', other]);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain('too many arguments');
    const option = await run([
      'credential',
      'set',
      'ARGV_KEY',
      '--vault',
      'prod',
      '--value',
      other,
    ]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--value'");
    const keys = JSON.parse(
      (await run(['credential', 'list', '--vault', 'prod', '--json'])).stdout,
    );
    expect(keys.credentials.map((c: any) => c.key)).toEqual(['OPENAI_KEY']);
    const help = await run(['credential', 'set', '--help']);
    expect(help.stdout).toContain('never accepted as a command-line argument');
  });

  it('auth status and logout; no output anywhere held the credential value or the owner token', async () => {
    const status = await run(['auth', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`gateway  ${addr} (from saved login)`);
    expect((await run(['auth', 'logout'])).stdout).toBe(`logged out of ${addr}\n`);
    expect((await run(['vault', 'list'])).code).toBe(2);

    const all = outputs.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(OWNER_TOKEN);
  });
});
