/**
 * `vectra approvals` against a real gateway holding real proxied writes (the shipped
 * `read-only-by-default` policies): list, show, approve, deny and standing approvals as tables
 * and JSON; an approver releasing a held POST from the command line; `watch` printing approvals
 * as they arrive, deciding on them when fed answers on stdin, never blocking on piped stdin, and
 * reopening a dropped stream; an auditor refused; `vectra logs` showing the approval events.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { registerAdminCommands } from '../../src/cli/admin-commands';
import { registerLogsCommand } from '../../src/cli/logs-command';
import { startApprovalGateway, type ApprovalGateway } from '../helpers/approvals';
import { exitOf, startCli } from '../helpers/cli';
import { json } from '../helpers/gateway';
import { runInProcess } from '../helpers/in-process-cli';
import { tempDir } from '../helpers/temp-dir';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { waitFor } from '../helpers/waiting-and-processes';

const APPROVAL_ID = /apr_[0-9a-z]+/;

interface Setup extends ApprovalGateway {
  owner: string;
}

/** An approval gateway whose bootstrap token is `owner`; the agent is `writer-bot` in `writes`. */
async function setUp(upstream: TestUpstream, env: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const owner = `vec_adm_${randomBytes(32).toString('base64url')}`;
  const s = await startApprovalGateway(upstream, {
    env: { Security__Admin__BootstrapToken: owner, ...env },
    secret: 'cli-approvals-secret',
  });
  return { ...s, owner };
}

interface RunOptions {
  token?: string;
  addr?: string;
  stdin?: PassThrough;
  /** Receives the function that stops `watch` as Ctrl-C would. */
  onStop?: (stop: () => void) => void;
  reconnectWaits?: number[];
}

/** `vectra …` in-process against `s.gateway`, as `token` (the approver by default). */
function vectra(s: Setup, argv: string[], options: RunOptions = {}) {
  const env = {
    VECTRA_ADDR: options.addr ?? s.gateway.urls.http,
    VECTRA_ADMIN_TOKEN: options.token ?? s.approver,
    VECTRA_CONFIG_HOME: tempDir('vectra-home-'),
  };
  const run = runInProcess(argv, env, (program, ctx) => {
    registerAdminCommands(program, ctx, {
      stdin: options.stdin ?? new PassThrough(),
      onInterrupt: (stop) => {
        options.onStop?.(stop);
        return () => undefined;
      },
      reconnectWait: async (ms) => {
        options.reconnectWaits?.push(ms);
      },
    });
    registerLogsCommand(program, ctx);
  });
  return {
    code: run.code,
    stdout: () => run.out.join('\n'),
    stderr: () => run.err.join('\n'),
  };
}

async function finished(run: ReturnType<typeof vectra>) {
  return { code: await run.code, stdout: run.stdout(), stderr: run.stderr() };
}

async function pendingIds(s: Setup, count: number): Promise<string[]> {
  let ids: string[] = [];
  await waitFor(`${count} pending approvals`, async () => {
    const listed = await finished(
      vectra(s, ['approvals', 'list', '--status', 'pending', '--json']),
    );
    ids = JSON.parse(listed.stdout).approvals.map((a: { id: string }) => a.id);
    return ids.length >= count;
  });
  return ids;
}

describe('vectra approvals', () => {
  let upstream: TestUpstream;
  let s: Setup;

  beforeAll(async () => {
    upstream = await startUpstream();
    s = await setUp(upstream);
  });
  afterAll(async () => {
    await s?.gateway.close();
    await upstream?.close();
  });

  it('lists and shows approvals, as a table and as JSON', async () => {
    const pending = await s.call('/items', {
      method: 'POST',
      body: '{"name":"widget","token":"t0p"}',
      headers: { 'x-api-key': 'agent-side-key' },
    });
    expect(pending.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    const id = (await json(pending)).approvalId as string;

    const table = await finished(vectra(s, ['approvals', 'list', '--vault', 'writes']));
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+AGENT\s+VAULT\s+METHOD\s+URL\s+EXPIRES\/DECIDED$/);
    const row = lines.find((line) => line.startsWith(id))!;
    expect(row.split(/\s+/)).toEqual([
      id,
      'pending',
      'writer-bot',
      'writes',
      'POST',
      `${upstream.httpUrl}/items`,
      expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    ]);
    const none = await finished(vectra(s, ['approvals', 'list', '--agent', 'nobody']));
    expect(none).toMatchObject({ code: 0, stdout: 'no approvals' });

    const listed = await finished(vectra(s, ['approvals', 'list', '--json', '--limit', '1']));
    expect(JSON.parse(listed.stdout).approvals).toEqual([
      expect.objectContaining({ id, status: 'pending', agent: 'writer-bot', method: 'POST' }),
    ]);

    const shown = await finished(vectra(s, ['approvals', 'show', id]));
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^approval\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^status\s+pending$/m);
    expect(shown.stdout).toMatch(new RegExp(`^request\\s+POST ${upstream.httpUrl}/items$`, 'm'));
    expect(shown.stdout).toMatch(/^why\s+.*need a human's approval/m);
    expect(shown.stdout).toMatch(/^reasons\s+- /m);
    expect(shown.stdout).toMatch(/^body\s+31 bytes, sha256 [0-9a-f]{64}$/m);
    expect(shown.stdout).toContain(
      'body preview:\n  {\n    "name": "widget",\n    "token": "[REDACTED]"\n  }',
    );
    expect(shown.stdout).toContain('  x-api-key: [REDACTED]');
    expect(shown.stdout).not.toContain('agent-side-key');
    const shownJson = JSON.parse(
      (await finished(vectra(s, ['approvals', 'show', id, '--json']))).stdout,
    );
    expect(shownJson.approval).toMatchObject({ id, bodySize: 31, status: 'pending' });
  });

  it('approves and denies with a reason; a second decision and an unknown id fail with their codes', async () => {
    const a = (await json(await s.call('/a', { method: 'POST', body: '{}' }))).approvalId;
    const b = (await json(await s.call('/b', { method: 'POST', body: '{}' }))).approvalId;

    const approved = await finished(vectra(s, ['approvals', 'approve', a, '--comment', 'fine']));
    expect(approved).toMatchObject({
      code: 0,
      stdout: `approved ${a} (once): POST ${upstream.httpUrl}/a`,
    });
    const denied = await finished(
      vectra(s, ['approvals', 'deny', b, '--reason', 'not on a Friday', '--json']),
    );
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.stdout).approval).toMatchObject({
      id: b,
      status: 'denied',
      comment: 'not on a Friday',
      decidedBy: { name: 'alice' },
    });
    const retried = await s.call('/b', { method: 'POST', body: '{}' });
    expect(await json(retried)).toMatchObject({
      code: 'VEC_APPROVAL_DENIED',
      reason: 'not on a Friday',
    });
    expect((await s.call('/a', { method: 'POST', body: '{}' })).status).toBe(200);

    const decided = await finished(vectra(s, ['approvals', 'list', '--status', 'used']));
    expect(decided.stdout).toMatch(new RegExp(`^${a}\\s+used\\s+writer-bot`, 'm'));
    const shown = await finished(vectra(s, ['approvals', 'show', b]));
    expect(shown.stdout).toMatch(/^decision\s+by alice at \d{4}-/m);
    expect(shown.stdout).toMatch(/^reason\s+not on a Friday$/m);

    const again = await finished(vectra(s, ['approvals', 'approve', a]));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^vectra: .*\[VEC_APPROVAL_DECIDED\]$/);
    const unknown = await finished(vectra(s, ['approvals', 'show', 'apr_nope']));
    expect(unknown).toMatchObject({
      code: 1,
      stderr: 'vectra: No approval has the id apr_nope. [VEC_APPROVAL_NOT_FOUND]',
    });
    const unknownDeny = await finished(
      vectra(s, ['approvals', 'deny', 'apr_nope', '--reason', 'x']),
    );
    expect(unknownDeny.stderr).toContain('[VEC_APPROVAL_NOT_FOUND]');
  });

  it('usage errors exit 2 before anything is sent', async () => {
    for (const argv of [
      ['approvals', 'deny', 'apr_x'],
      ['approvals', 'deny', 'apr_x', '--reason', '  '],
      ['approvals', 'approve', 'apr_x', '--scope', 'session'],
      ['approvals', 'approve', 'apr_x', '--minutes', '5'],
      ['approvals', 'approve', 'apr_x', '--scope', 'forever'],
      ['approvals', 'approve', 'apr_x', '--path-pattern', '/x/*'],
      ['approvals', 'list', '--status', 'bogus'],
      ['approvals', 'list', '--limit', '0'],
    ]) {
      const run = await finished(vectra(s, argv, { addr: 'http://127.0.0.1:9' }));
      expect({ argv, code: run.code }).toEqual({ argv, code: 2 });
      expect(run.stderr).not.toContain('VEC_CLI_UNREACHABLE');
    }
  });

  it('standing approvals: session and always are listed, and revoking one needs a human again', async () => {
    const session = (await json(await s.call('/repos/a/issues', { method: 'POST', body: '{}' })))
      .approvalId;
    const always = (await json(await s.call('/hooks', { method: 'DELETE' }))).approvalId;
    const sessionApproved = await finished(
      vectra(s, [
        'approvals',
        'approve',
        session,
        '--scope',
        'session',
        '--minutes',
        '30',
        '--path-pattern',
        '/repos/*/issues',
      ]),
    );
    expect(sessionApproved.stdout).toMatch(
      new RegExp(`^approved ${session} \\(session, until \\d{4}-.*, path /repos/\\*/issues\\)`),
    );
    expect(
      (await finished(vectra(s, ['approvals', 'approve', always, '--scope', 'always']))).code,
    ).toBe(0);
    expect((await s.call('/repos/b/issues', { method: 'POST', body: '{}' })).status).toBe(200);
    expect((await s.call('/hooks', { method: 'DELETE' })).status).toBe(200);

    const table = await finished(
      vectra(s, ['approvals', 'standing', '--vault', 'writes'], { token: s.auditor }),
    );
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^ID\s+SCOPE\s+AGENT\s+VAULT\s+METHOD\s+HOST\s+PATH PATTERN\s+UNTIL\s+APPROVED BY$/,
    );
    expect(lines.find((l) => l.startsWith(session))).toMatch(
      /\s+session\s+writer-bot\s+writes\s+POST\s+localhost:\d+\s+\/repos\/\*\/issues\s+\d{4}-\S+\s+alice$/,
    );
    expect(lines.find((l) => l.startsWith(always))).toMatch(
      /\s+always\s+.*DELETE\s+.*\/hooks\s+revoked\s+alice$/,
    );
    const listed = await finished(
      vectra(s, ['approvals', 'standing', 'list', '--json', '--agent', 'writer-bot']),
    );
    expect(
      JSON.parse(listed.stdout)
        .standing.map((a: { id: string }) => a.id)
        .sort(),
    ).toEqual([session, always].sort());

    const revoked = await finished(vectra(s, ['approvals', 'standing', 'revoke', always]));
    expect(revoked).toMatchObject({
      code: 0,
      stdout: `revoked ${always}: DELETE localhost:${upstream.httpPort}/hooks needs a human again`,
    });
    expect((await s.call('/hooks', { method: 'DELETE' })).status).toBe(403);
    const after = await finished(vectra(s, ['approvals', 'standing', '--json']));
    expect(JSON.parse(after.stdout).standing.map((a: { id: string }) => a.id)).toEqual([session]);
    const revokedJson = await finished(
      vectra(s, ['approvals', 'standing', 'revoke', session, '--json']),
    );
    expect(JSON.parse(revokedJson.stdout).approval).toMatchObject({
      id: session,
      scope: 'session',
    });
    expect((await finished(vectra(s, ['approvals', 'standing']))).stdout).toBe(
      'no standing approvals',
    );
  });

  it('an auditor lists and shows but cannot decide (VEC_AUTH_FORBIDDEN, exit 1)', async () => {
    const id = (await json(await s.call('/audited', { method: 'POST', body: '{}' }))).approvalId;
    expect((await finished(vectra(s, ['approvals', 'show', id], { token: s.auditor }))).code).toBe(
      0,
    );
    for (const argv of [
      ['approvals', 'approve', id],
      ['approvals', 'deny', id, '--reason', 'no'],
    ]) {
      const refused = await finished(vectra(s, argv, { token: s.auditor }));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^vectra: .*\[VEC_AUTH_FORBIDDEN\]$/);
    }
    const still = await finished(vectra(s, ['approvals', 'show', id, '--json']));
    expect(JSON.parse(still.stdout).approval.status).toBe('pending');
  });

  it('vectra logs shows the approval events with the approval id', async () => {
    const id = (await json(await s.call('/logged', { method: 'POST', body: '{}' }))).approvalId;
    await finished(vectra(s, ['approvals', 'approve', id]));
    expect((await s.call('/logged', { method: 'POST', body: '{}' })).status).toBe(200);
    await waitFor('the used event to be recorded', async () => {
      await s.gateway.audit.flush();
      const rows = await s.gateway.audit.query({ vault: 'writes', limit: 500 });
      return rows.some((r) => r.approvalId === id && r.event === 'approval.used');
    });

    const table = await finished(
      vectra(s, ['logs', '--vault', 'writes', '--limit', '1000'], { token: s.owner }),
    );
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/\s+CODE\s+EVENT$/);
    const events = lines.filter((l) => l.includes(id));
    expect(events).toEqual([
      expect.stringMatching(
        new RegExp(
          `POST .*/logged .*deny\\s+-\\s+-\\s+VEC_APPROVAL_PENDING\\s+approval\\.created ${id}$`,
        ),
      ),
      expect.stringMatching(new RegExp(`allow\\s+-\\s+-\\s+-\\s+approval\\.approved ${id}$`)),
      expect.stringMatching(new RegExp(`allow\\s+-\\s+-\\s+-\\s+approval\\.used ${id}$`)),
    ]);
    const jsonRows = (
      await finished(
        vectra(s, ['logs', '--vault', 'writes', '--json', '--limit', '1000'], { token: s.owner }),
      )
    ).stdout
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((row) => row.approvalId === id);
    expect(jsonRows.map((row) => row.event)).toEqual([
      'approval.created',
      'approval.approved',
      'approval.used',
    ]);
  });
});

describe('vectra approvals with held requests', () => {
  let upstream: TestUpstream;
  let s: Setup;

  beforeAll(async () => {
    upstream = await startUpstream();
    // Test gateways answer pending at once; these hold the agent's call until a decision.
    s = await setUp(upstream, { HumanInTheLoop__HoldSeconds: '25' });
  });
  afterAll(async () => {
    await s?.gateway.close();
    await upstream?.close();
  });

  it('an approver approves from the CLI while the POST is held; the agent gets the upstream answer', async () => {
    const held = s.call('/orders', { method: 'POST', body: '{"n":1}' });
    const [id] = await pendingIds(s, 1);
    const approved = await finished(vectra(s, ['approvals', 'approve', id, '--json']));
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout).approval).toMatchObject({
      id,
      status: 'approved',
      scope: 'once',
    });
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(await json(answer)).toMatchObject({ method: 'POST', url: '/orders', bodyLength: 7 });
  });

  it('watch prints a new approval as it arrives and what becomes of it; piped stdin is never read', async () => {
    let stop: (() => void) | undefined;
    const stdin = new PassThrough();
    const watch = vectra(s, ['approvals', 'watch', '--vault', 'writes'], {
      stdin,
      onStop: (fn) => (stop = fn),
    });
    await waitFor('the stream to open', () =>
      watch.stderr().includes('watching approvals in vault writes'),
    );
    const held = s.call('/watched', { method: 'POST', body: '{}' });
    await waitFor('the new approval', () => APPROVAL_ID.test(watch.stdout()));
    const id = watch.stdout().match(APPROVAL_ID)![0];
    expect(watch.stdout().split('\n')).toEqual([
      `approval ${id} waits for a decision`,
      '  agent    writer-bot',
      '  vault    writes',
      `  request  POST ${upstream.httpUrl}/watched`,
      expect.stringMatching(/^ {2}why {6}.*need a human's approval/),
      expect.stringMatching(/^ {2}expires {2}\d{4}-/),
    ]);
    await finished(vectra(s, ['approvals', 'approve', id]));
    expect((await held).status).toBe(200);
    await waitFor('the decision and the use', () => watch.stdout().includes(`${id} used`));
    expect(watch.stdout()).toMatch(
      new RegExp(`^${id} approved by alice at \\S+, scope once$`, 'm'),
    );
    expect(watch.stdout()).toContain(
      `${id} used: the approved POST ${upstream.httpUrl}/watched went through`,
    );
    expect(watch.stderr()).not.toContain('[o]nce');
    expect(stdin.readableFlowing).toBeNull(); // nobody read it
    stop!();
    expect(await watch.code).toBe(0);
  });

  it('watch --interactive approves on "o" and denies on "d" with a reason read from stdin', async () => {
    let stop: (() => void) | undefined;
    const stdin = new PassThrough();
    const watch = vectra(s, ['approvals', 'watch', '--interactive'], {
      stdin,
      onStop: (fn) => (stop = fn),
    });
    await waitFor('the stream to open', () => watch.stderr().includes('watching approvals;'));
    const first = s.call('/interactive/1', { method: 'POST', body: '{}' });
    await waitFor('the prompt', () =>
      watch.stderr().includes('approve [o]nce / [s]ession / [a]lways / [d]eny / [enter] skip'),
    );
    stdin.write('o\n');
    const answer = await first;
    expect(answer.status).toBe(200);
    expect(await json(answer)).toMatchObject({ url: '/interactive/1' });

    const second = s.call('/interactive/2', { method: 'POST', body: '{}' });
    await waitFor('the second prompt', () => watch.stderr().split('[o]nce').length === 3);
    stdin.write('x\n');
    await waitFor('the hint', () => watch.stderr().includes('answer o, s, a or d'));
    stdin.write('d\n');
    await waitFor('the reason prompt', () => watch.stderr().includes('reason for the denial'));
    stdin.write('not this one\n');
    expect(await json(await second)).toMatchObject({
      code: 'VEC_APPROVAL_DENIED',
      reason: 'not this one',
    });
    await waitFor('the denial', () => watch.stdout().includes('denied by alice: not this one'));
    stop!();
    expect(await watch.code).toBe(0);
  });

  it('watch --json prints one JSON line per event and reopens a dropped stream', async () => {
    const relay = await startRelay(new URL(s.gateway.urls.http).port);
    const waits: number[] = [];
    let stop: (() => void) | undefined;
    try {
      const earlier = s.call('/before', { method: 'POST', body: '{}' });
      const [before] = await pendingIds(s, 1);
      const watch = vectra(s, ['approvals', 'watch', '--json'], {
        addr: relay.url,
        onStop: (fn) => (stop = fn),
        reconnectWaits: waits,
      });
      await waitFor('the pending line', () => watch.stdout().includes(before));
      relay.drop();
      await waitFor(
        'a reconnect',
        () => relay.connections() >= 2 && watch.stderr().includes('reconnecting'),
      );
      await finished(vectra(s, ['approvals', 'deny', before, '--reason', 'later']));
      await earlier;
      const later = s.call('/after', { method: 'POST', body: '{}' });
      await waitFor('the new approval', () => watch.stdout().includes('"type":"created"'));
      const lines = watch
        .stdout()
        .split('\n')
        .map((line) => JSON.parse(line));
      const id = lines[lines.length - 1].approval.id;
      await finished(vectra(s, ['approvals', 'approve', id]));
      await later;
      await waitFor('the use', () => watch.stdout().includes('"type":"used"'));
      stop!();
      expect(await watch.code).toBe(0);
      const events = watch
        .stdout()
        .split('\n')
        .map((line) => JSON.parse(line))
        .map((e) => [e.type, e.approval.id]);
      // The pending approval is printed once though the stream was opened twice.
      expect(events).toEqual([
        ['pending', before],
        ['denied', before],
        ['created', id],
        ['approved', id],
        ['used', id],
      ]);
      expect(waits).toEqual([3000]); // the server's retry: delay
    } finally {
      stop?.();
      await relay.close();
    }
  });

  it('the built CLI watches with piped stdin without prompting and exits 0 on SIGINT', async () => {
    const child = startCli(['approvals', 'watch', '--addr', s.gateway.urls.http], {
      env: { VECTRA_ADMIN_TOKEN: s.auditor, VECTRA_CONFIG_HOME: tempDir('h-') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor('the stream to open', () => stderr.includes('press Ctrl-C'));
    const held = s.call('/spawned', { method: 'POST', body: '{}' });
    await waitFor('the new approval', () => APPROVAL_ID.test(stdout));
    const id = stdout.match(APPROVAL_ID)![0];
    expect(stdout).toContain(`request  POST ${upstream.httpUrl}/spawned`);
    await finished(vectra(s, ['approvals', 'deny', id, '--reason', 'spawned']));
    await held;
    await waitFor('the denial', () => stdout.includes(`${id} denied by alice: spawned`));
    expect(stderr).not.toContain('[o]nce');
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
  });
});

/** A TCP relay to the gateway whose open connections `drop()` cuts, as a network hiccup would. */
async function startRelay(port: string) {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((client) => {
    count += 1;
    const upstream = connect(Number(port), '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => count,
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
