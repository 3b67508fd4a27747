/**
 * `vectra logs` against a real API server: in-process (table, JSON lines, limits, errors,
 * --follow until interrupted or until the server ends the stream), and as a separate process
 * that a real SIGINT stops with exit code 0. The server here is the API app with the audit
 * routes and the real authorizer; the last suite runs the built `vectra` against a real gateway
 * and enables itself once the lead has wired the audit log into the gateway and the CLI.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { registerLogsCommand } from '../../src/cli/logs-command';
import type { AuditLog } from '../../src/audit/audit-log';
import { auditEntries, startAuditRoutesServer, type AuditRoutesServer } from '../helpers/audit';
import { exitOf, runCli, startCli } from '../helpers/cli';
import { REPO_ROOT, startTestGateway } from '../helpers/gateway';
import { startUpstream } from '../helpers/upstream';
import { waitFor } from '../helpers/waiting-and-processes';
import { runInProcess } from '../helpers/in-process-cli';
import { tempDir } from '../helpers/temp-dir';
import { startedAround } from '../helpers/started';

interface Api extends AuditRoutesServer {
  token: string;
}

/** The audit routes with vaults `team` and `empty` and an auditor's token. */
async function startApi(): Promise<Api> {
  const api = await startAuditRoutesServer();
  await api.vaults.createVault({ name: 'team' });
  await api.vaults.createVault({ name: 'empty' });
  const token = (await api.vaults.createAdminToken({ name: 'auditor', role: 'auditor' })).token;
  return { ...api, token };
}

const entry = auditEntries((n) => ({
  method: 'POST',
  path: `/v1/items/${n}`,
  status: 201,
  latencyMs: 7,
  bytesIn: 1,
  bytesOut: 2,
}));

/** Like `main()`, in-process: the exit code and what was printed so far (live). */
function run(api: Api, argv: string[], onInterrupt?: (stop: () => void) => () => void) {
  const env = {
    VECTRA_ADDR: api.url,
    VECTRA_ADMIN_TOKEN: api.token,
    VECTRA_CONFIG_HOME: tempDir('vectra-home-'),
  };
  const { code, out, err } = runInProcess(argv, env, (program, ctx) =>
    registerLogsCommand(program, ctx, { onInterrupt }),
  );
  return { code, stdout: () => out.join('\n'), stderr: () => err.join('\n') };
}

describe('vectra logs (in-process, real API)', () => {
  let api: Api;
  const secret = `planted-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    api = await startApi();
    api.audit.record(entry({ path: `/search?q=${secret}`, agent: undefined, status: undefined }));
    for (let i = 0; i < 3; i++) api.audit.record(entry());
    api.audit.record(
      entry({ decision: 'deny', status: 403, errorCode: 'VEC_UNMATCHED_HOST_DENIED', port: 8443 }),
    );
    api.audit.record(
      entry({
        decision: 'deny',
        status: undefined,
        latencyMs: 0,
        errorCode: 'VEC_APPROVAL_PENDING',
        event: 'approval.created',
        approvalId: 'apr_0123456789abcdef',
      }),
    );
    await api.audit.flush();
  });

  afterAll(() => api.close());

  it('prints a table, oldest first, without query values', async () => {
    const result = run(api, ['logs', '--vault', 'team']);
    expect(await result.code).toBe(0);
    const lines = result.stdout().split('\n');
    expect(lines[0].split(/\s+/)).toEqual([
      'TIME',
      'AGENT',
      'METHOD',
      'HOST',
      'PATH',
      'SERVICE',
      'DECISION',
      'STATUS',
      'MS',
      'CODE',
      'EVENT',
    ]);
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(
      /^2030-\S+\s+-\s+POST\s+api\.example\.com\s+\/search\?q=\s+api\s+allow\s+-\s+7\s+-$/,
    );
    expect(lines[5]).toMatch(
      /api\.example\.com:8443 .* deny\s+403\s+7\s+VEC_UNMATCHED_HOST_DENIED$/,
    );
    expect(lines[6]).toMatch(
      /\s+deny\s+-\s+-\s+VEC_APPROVAL_PENDING\s+approval\.created apr_0123456789abcdef$/,
    );
    expect(result.stdout()).not.toContain(secret);
  });

  it('prints JSON lines with --json, and the newest rows with --limit', async () => {
    const result = run(api, ['logs', '--vault', 'team', '--json', '--limit', '2']);
    expect(await result.code).toBe(0);
    const rows = result
      .stdout()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(2);
    expect(rows[0].at < rows[1].at).toBe(true);
    expect(rows[0]).toMatchObject({
      decision: 'deny',
      errorCode: 'VEC_UNMATCHED_HOST_DENIED',
      event: null,
      approvalId: null,
    });
    expect(rows[1]).toMatchObject({
      event: 'approval.created',
      approvalId: 'apr_0123456789abcdef',
    });
  });

  it('says so when a vault has no rows, and fails clearly for an unknown vault or a bad --limit', async () => {
    const empty = run(api, ['logs', '--vault', 'empty']);
    expect(await empty.code).toBe(0);
    expect(empty.stdout()).toBe('');
    expect(empty.stderr()).toContain('no log rows for vault empty');
    const unknown = run(api, ['logs', '--vault', 'nope']);
    expect(await unknown.code).toBe(1);
    expect(unknown.stderr()).toMatch(/^vectra: .*\[VEC_VAULT_NOT_FOUND\]$/);
    const badLimit = run(api, ['logs', '--limit', '0']);
    expect(await badLimit.code).toBe(2);
    expect(badLimit.stderr()).toContain('--limit');
  });

  it('--follow prints the recent rows, then new ones, until interrupted (exit 0)', async () => {
    let stop: (() => void) | undefined;
    let removed = false;
    const result = run(api, ['logs', '--vault', 'team', '--follow', '--limit', '1'], (fn) => {
      stop = fn;
      return () => (removed = true);
    });
    await waitFor('the initial row', () => result.stdout().includes('apr_0123456789abcdef'));
    await waitFor('the stream to open', () => result.stderr().includes('following vault team'));
    api.audit.record(entry({ path: '/live?token=secret' }));
    api.audit.record(entry({ vault: 'empty', path: '/other-vault' }));
    await api.audit.flush();
    await waitFor('the live row', () => result.stdout().includes('/live?token='));
    stop!();
    expect(await result.code).toBe(0);
    expect(removed).toBe(true);
    expect(result.stdout()).not.toContain('/other-vault');
    expect(result.stdout().split('\n')).toHaveLength(3); // header, recent row, live row
  });

  it('--follow --json fails (exit 1) when the gateway ends the stream', async () => {
    const result = run(api, ['logs', '--vault', 'empty', '--follow', '--json'], () => () => {});
    await waitFor('the stream to open', () => result.stderr().includes('press Ctrl-C'));
    api.audit.record(entry({ vault: 'empty', path: '/x' }));
    await api.audit.flush();
    await waitFor('the live row', () => result.stdout().includes('"path":"/x"'));
    api.stream.close();
    expect(await result.code).toBe(1);
    expect(result.stderr()).toMatch(/ended the log stream.*\[VEC_CLI_UNREACHABLE\]/);
  });
});

/** Runs the built command (dist/) in its own process, as `vectra logs` would run. */
const LOGS_PROCESS = `
const { Command } = require('commander');
const { registerLogsCommand } = require('./dist/cli/logs-command');
const { processIo, reportError } = require('./dist/cli/output');
const ctx = { io: processIo, env: process.env, version: 'test', exitCode: 0 };
const program = new Command('vectra').exitOverride();
registerLogsCommand(program, ctx);
program.parseAsync(process.argv.slice(1), { from: 'user' }).then(
  () => (process.exitCode = ctx.exitCode),
  (error) => { reportError(processIo, error, false); process.exitCode = 1; },
);
`;

describe('vectra logs --follow in its own process', () => {
  const api = startedAround(startApi);

  it('streams rows until a real SIGINT, then exits 0', async () => {
    const child = spawn(process.execPath, ['-e', LOGS_PROCESS, 'logs', '--vault', 'team', '-f'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        VECTRA_ADDR: api().url,
        VECTRA_ADMIN_TOKEN: api().token,
        VECTRA_CONFIG_HOME: tempDir('vectra-home-'),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor('the stream to open', () => stderr.includes('press Ctrl-C'));
    api().audit.record(entry({ path: '/from-another-process' }));
    await api().audit.flush();
    await waitFor('the live row', () => stdout.includes('/from-another-process'));
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^TIME\s+AGENT/);
  });
});

describe('vectra logs against a real gateway (built CLI)', () => {
  it('shows proxied requests, allowed and denied, with no query values, credential or token', async () => {
    const upstream = await startUpstream();
    const token = `vec_adm_${randomBytes(32).toString('base64url')}`;
    const gateway = await startTestGateway({
      Security__Admin__BootstrapToken: token,
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    const secret = `sk_test_${randomBytes(12).toString('hex')}`;
    const planted = `planted-${randomBytes(8).toString('hex')}`;
    try {
      const vaults = gateway.vaults;
      await vaults.createVault({ name: 'shop' });
      await vaults.setCredential('shop', 'API_KEY', secret);
      await vaults.createService('shop', {
        name: 'local',
        host: new URL(upstream.httpsUrl).host,
        auth: { type: 'bearer', credential: 'API_KEY' },
      });
      const agentToken = (await gateway.identity.createAgent({ name: 'shopper', vaults: ['shop'] }))
        .token;
      const headers = { authorization: `Bearer ${agentToken}`, 'x-vault': 'shop' };
      const allowed = await fetch(
        `${gateway.urls.http}/proxy/${upstream.httpsUrl}/orders?q=${planted}&page=2`,
        { headers },
      );
      expect(allowed.status).toBe(200);
      const denied = await fetch(`${gateway.urls.http}/proxy/https://unlisted.test/x`, { headers });
      expect(denied.status).toBe(403);
      await Promise.all([allowed.text(), denied.text()]);
      const audit = (gateway as unknown as { audit: AuditLog }).audit;
      // A row is recorded when the server side of the exchange closes, just after the client's.
      await waitFor('both rows to be recorded', () => audit.stats().recorded >= 2);
      await audit.flush();

      const env = {
        VECTRA_ADMIN_TOKEN: token,
        VECTRA_CONFIG_HOME: tempDir('h-'),
      };
      const listed = await runCli(
        ['logs', '--vault', 'shop', '--json', '--addr', gateway.urls.http],
        { env },
      );
      expect(listed.code).toBe(0);
      const rows = listed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(rows).toEqual([
        expect.objectContaining({
          agent: 'shopper',
          vault: 'shop',
          method: 'GET',
          path: '/orders?q=&page=',
          service: 'local',
          decision: 'allow',
          status: 200,
        }),
        expect.objectContaining({
          host: 'unlisted.test',
          path: '/x',
          decision: 'deny',
          status: 403,
          errorCode: 'VEC_UNMATCHED_HOST_DENIED',
        }),
      ]);
      for (const hidden of [planted, secret, agentToken]) {
        expect(listed.stdout).not.toContain(hidden);
      }
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });

  it('lists and follows a vault, and the gateway shuts down promptly with a follower open', async () => {
    const token = `vec_adm_${randomBytes(32).toString('base64url')}`;
    const gateway = await startTestGateway({ Security__Admin__BootstrapToken: token });
    const audit = (gateway as unknown as { audit: AuditLog }).audit;
    const env = {
      VECTRA_ADMIN_TOKEN: token,
      VECTRA_CONFIG_HOME: tempDir('h-'),
    };
    try {
      audit.record(entry({ vault: 'default', path: `/first?key=${token}` }));
      await audit.flush();
      const listed = await runCli(['logs', '--vault', 'default', '--addr', gateway.urls.http], {
        env,
      });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('/first?key=');
      expect(listed.stdout).not.toContain(token);

      const follower = startCli(
        ['logs', '--vault', 'default', '--follow', '--json', '--addr', gateway.urls.http],
        { env },
      );
      let stdout = '';
      let followed = '';
      follower.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      follower.stderr.on('data', (d: Buffer) => (followed += d.toString()));
      await waitFor('the first row', () => stdout.includes('/first?key='));
      await waitFor('the stream to open', () => followed.includes('press Ctrl-C'));
      audit.record(entry({ vault: 'default', path: '/second' }));
      await audit.flush();
      await waitFor('the live row', () => stdout.includes('/second'));
      follower.kill('SIGINT');
      expect(await exitOf(follower)).toBe(0);

      const open = startCli(['logs', '--follow', '--addr', gateway.urls.http], { env });
      let stderr = '';
      open.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitFor('the stream to open', () => stderr.includes('press Ctrl-C'));
      const started = Date.now();
      await gateway.close();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await exitOf(open)).toBe(1); // the stream ended: told, not hung
    } finally {
      await gateway.close();
    }
  });
});
