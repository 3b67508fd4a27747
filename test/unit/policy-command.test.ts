/**
 * `vectra policy validate` and `vectra policy test` in-process, over real policy directories:
 * exit codes, every problem listed, the decision explained, nothing sent anywhere. The --addr
 * path against a real API is in test/integration/policy-route.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerPolicyCommand } from '../../src/cli/policy-command';
import { REPO_ROOT } from '../helpers/gateway';
import { runInProcess } from '../helpers/in-process-cli';
import { policyDocument, rule, when } from '../helpers/policy-documents';
import { tempDir } from '../helpers/temp-dir';

const EXAMPLES = join(REPO_ROOT, 'policies');

async function run(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; fetch?: typeof fetch } = {},
) {
  const env = { Policy__Providers__Internal__Directory: EXAMPLES, ...options.env };
  const { code, out, err } = runInProcess(argv, env, (program, ctx) =>
    registerPolicyCommand(program, ctx, { fetch: options.fetch }),
  );
  return { code: await code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function directory(files: Record<string, string>): string {
  const dir = tempDir('vectra-policy-cli-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const test = (...args: string[]) =>
  run(['policy', 'test', '--agent', 'bot', '--vault', 'team', ...args]);

/** `policy test` against the gateway at http://gw.test:7080, answered by `fakeFetch`. */
const testRemote = (fakeFetch: typeof fetch, ...args: string[]) =>
  run(
    [
      'policy',
      'test',
      '--addr',
      'http://gw.test:7080',
      '--agent',
      'bot',
      '--vault',
      'team',
      ...args,
    ],
    { env: { VECTRA_ADMIN_TOKEN: 'vec_adm_t', VECTRA_CONFIG_HOME: tmpdir() }, fetch: fakeFetch },
  );

describe('vectra policy validate', () => {
  it('passes the shipped examples (the configured directory by default)', async () => {
    const result = await run(['policy', 'validate']);
    expect(result).toEqual({
      code: 0,
      stdout: `3 policies in 3 files are valid (${EXAMPLES}): approval-for-exports, no-destructive-verbs-on-production, read-only-by-default`,
      stderr: '',
    });
  });

  it('lists every problem of every file and exits 1', async () => {
    const dir = directory({
      'a.json': '{\n  "name": "a",\n  "default": "Allow",\n}',
      'b.json': JSON.stringify(
        policyDocument('b', 'Allow', [rule('r', 'Deny', 'x', [when('path', 'matches', 'x')])]),
      ),
      'c.json': JSON.stringify({ name: 'c', default: 'Maybe' }),
    });
    const result = await run(['policy', 'validate', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      `${join(dir, 'a.json')}:4:1: invalid JSON: a comma before '}' (JSON allows no trailing comma)`,
      expect.stringMatching(
        new RegExp(
          `^${join(dir, 'b.json')}: rules\\[0\\]\\.conditions\\[0\\]\\.operator: unknown operator "matches"`,
        ),
      ),
      `${join(dir, 'c.json')}: default: must be one of Allow, Deny, Hitl (got "Maybe")`,
      `3 problems in ${dir}`,
    ]);
  });

  it('warns about a Deny rule comparing request.path case-sensitively, and still passes', async () => {
    const dir = directory({
      'admin.json': JSON.stringify(
        policyDocument('admin', 'Allow', [
          rule('no-admin', 'Deny', 'No admin', [when('path', 'startsWith', '/admin')]),
        ]),
      ),
    });
    const result = await run(['policy', 'validate', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^warning: ${join(dir, 'admin.json')}: policy admin, rule no-admin \\(Deny\\): request\\.path startsWith "/admin" compares letter case as written`,
        ),
      ),
      `1 policies in 1 files are valid (${dir}): admin`,
    ]);
    const json = JSON.parse((await run(['policy', 'validate', dir, '--json'])).stdout);
    expect(json).toMatchObject({ valid: true, warnings: [{ file: join(dir, 'admin.json') }] });
  });

  it('answers JSON with --json', async () => {
    const dir = directory({ 'a.json': '{' });
    const result = await run(['policy', 'validate', dir, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      directory: dir,
      valid: false,
      files: [join(dir, 'a.json')],
      problems: [{ file: join(dir, 'a.json'), line: 1, column: 2 }],
    });
  });

  it('fails on a missing directory', async () => {
    const result = await run(['policy', 'validate', join(tmpdir(), 'vectra-none-xyz')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/the policy directory cannot be read \(ENOENT\)/);
  });
});

describe('vectra policy test', () => {
  it('prints the decision, the policy and rule, each policy and the explanation', async () => {
    const result = await test('--method', 'DELETE', '--url', 'https://db.prod.example.com/rows/1');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('decision: Deny');
    expect(result.stdout).toContain('policy:   no-destructive-verbs-on-production');
    expect(result.stdout).toContain('rule:     no-delete-on-prod-hosts');
    expect(result.stdout).toContain('risk:     1');
    expect(result.stdout).toContain(
      'reason:   Policy no-destructive-verbs-on-production (rule no-delete-on-prod-hosts): DELETE is never allowed on production hosts.',
    );
    expect(result.stdout).toMatch(/read-only-by-default\s+Hitl\s+default \(no rule matched\)/);
    expect(result.stdout).toMatch(
      /reads-are-allowed \(priority 100\): no: request\.method in \["GET","HEAD","OPTIONS"\]/,
    );
    expect(result.stdout).toContain('(dry run: nothing was sent upstream)');
  });

  it('prints the risk score with its factors, and whether a human would have to approve', async () => {
    const allowAll = directory({
      'all.json': JSON.stringify({ name: 'all', default: 'Allow', rules: [] }),
    });
    const args = ['--method', 'DELETE', '--url', 'https://api.example.com/admin/users/all'];
    const scored = await run(['policy', 'test', '--agent', 'bot', '--vault', 'team', ...args], {
      env: { Policy__Providers__Internal__Directory: allowAll, Semantic__Enabled: 'true' },
    });
    expect(scored.code).toBe(0);
    const lines = scored.stdout.split('\n');
    expect(lines).toContain('decision: Allow');
    expect(lines.find((l) => l.startsWith('score:'))).toMatch(
      /^score: {4}0\.(8\d|9\d) \(Internal risk scoring\)$/,
    );
    expect(lines).toContain('  - method 0.60: DELETE removes data');
    expect(lines.some((l) => l.startsWith('  - path.admin '))).toBe(true);
    expect(lines.find((l) => l.startsWith('approval:'))).toMatch(
      /^approval: A human must approve this request: its risk score 0\.\d\d reaches the threshold 0\.8 because DELETE removes data/,
    );

    // Scoring off (the default): the score is shown, and approval does not depend on it.
    const unscored = await run(['policy', 'test', '--agent', 'bot', '--vault', 'team', ...args], {
      env: { Policy__Providers__Internal__Directory: allowAll },
    });
    expect(unscored.stdout).toContain(
      'Internal risk scoring; Semantic.Enabled is false, so the gateway does not use it)',
    );
    expect(unscored.stdout).toContain('approval: not needed');
  });

  it('allows a plain GET with the examples', async () => {
    const result = await test(
      '--method',
      'GET',
      '--url',
      'https://api.github.com/repos/a/b',
      '--json',
    );
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.decision).toMatchObject({ effect: 'Allow', rule: 'reads-are-allowed' });
    expect(answer.input.request).toMatchObject({ method: 'GET', host: 'api.github.com' });
    expect(answer.trace).toHaveLength(3);
  });

  it('reads --body and --header, parsing a JSON body for request.body conditions', async () => {
    const dir = directory({
      'p.json': JSON.stringify(
        policyDocument('p', 'Allow', [
          rule('big-amounts', 'Hitl', 'Payments over 1000 need approval', [
            when('body.amount', 'gt', 1000),
            when('headers.x-env', 'eq', 'prod'),
          ]),
        ]),
      ),
    });
    const body = join(tempDir('vectra-body-'), 'body.json');
    writeFileSync(body, '{"amount": 5000}');
    const base = ['--dir', dir, '--method', 'POST', '--url', 'https://pay.example.com/charges'];
    const hitl = await test(...base, '--body', body, '--header', 'X-Env: prod', '--json');
    expect(JSON.parse(hitl.stdout).decision).toMatchObject({ effect: 'Hitl', rule: 'big-amounts' });
    const allowed = await test(...base, '--body', body, '--header', 'X-Env: dev');
    expect(allowed.stdout).toContain('decision: Allow');
  });

  it('exits 1 when --expect differs from the decision', async () => {
    const url = ['--url', 'https://api.example.com/x'];
    expect((await test('--method', 'GET', ...url, '--expect', 'Allow')).code).toBe(0);
    const wrong = await test('--method', 'POST', ...url, '--expect', 'Allow');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('vectra: expected Allow, the policies decided Hitl');
  });

  it('refuses bad input as a usage error (exit 2)', async () => {
    const bad = await test('--method', 'GET', '--url', 'not-a-url');
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('not an absolute URL') });
    const header = await test(
      '--method',
      'GET',
      '--url',
      'https://x.example/',
      '--header',
      'nocolon',
    );
    expect(header.code).toBe(2);
    const missing = await run(['policy', 'test', '--agent', 'bot']);
    expect(missing.code).toBe(2);
  });

  it('refuses to judge with a broken directory, listing its problems (exit 1)', async () => {
    const dir = directory({ 'a.json': '[' });
    const result = await test('--dir', dir, '--method', 'GET', '--url', 'https://x.example/');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'a.json')}:1:2: invalid JSON`);
    expect(result.stderr).toMatch(/\[VEC_POLICY_INVALID\]/);
  });

  it('sends the described request to POST /v1/policy/evaluate with --addr', async () => {
    const sent: Array<{ url: string; init: RequestInit }> = [];
    const fakeFetch = (async (url: string, init: RequestInit) => {
      sent.push({ url, init });
      return new Response(
        JSON.stringify({
          decision: { effect: 'Hitl', reason: 'OPA wants a human.', policy: 'data.vectra.authz' },
          input: {},
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    }) as typeof fetch;
    const result = await testRemote(
      fakeFetch,
      '--method',
      'PUT',
      '--url',
      'https://api.example.com/x',
      '--header',
      'X-A: 1',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('decision: Hitl');
    expect(sent).toHaveLength(1);
    expect(sent[0].url).toBe('http://gw.test:7080/v1/policy/evaluate');
    expect((sent[0].init.headers as Record<string, string>).authorization).toBe('Bearer vec_adm_t');
    expect(JSON.parse(String(sent[0].init.body))).toEqual({
      agent: 'bot',
      vault: 'team',
      method: 'PUT',
      url: 'https://api.example.com/x',
      headers: { 'x-a': '1' },
    });
  });
});

describe('vectra policy test with a body the policies cannot judge', () => {
  const dir = directory({
    'p.json': JSON.stringify(
      policyDocument('guard', 'Allow', [
        rule('no-drops', 'Deny', 'No drops', [when('body.action', 'eq', 'drop')]),
      ]),
    ),
  });
  const file = (bytes: Buffer) => {
    const path = join(tempDir('vectra-body-'), 'body');
    writeFileSync(path, bytes);
    return path;
  };
  const base = ['--dir', dir, '--method', 'POST', '--url', 'https://api.example.com/x'];

  it('finds JSON after a BOM in a text/plain body, as the gateway does', async () => {
    const body = file(Buffer.from('\uFEFF{"action":"drop"}'));
    const result = await test(...base, '--body', body, '--header', 'Content-Type: text/plain');
    expect(result.stdout).toContain('decision: Deny');
    expect(result.stdout).toContain('rule:     no-drops');
    expect(result.stdout).not.toContain('refused:');
  });

  it('says a body that is not JSON is refused with VEC_POLICY_BODY_UNREADABLE', async () => {
    const body = file(Buffer.from('action=drop'));
    const result = await test(...base, '--body', body, '--header', 'Content-Type: text/plain');
    expect(result.stdout).toContain('decision: Deny');
    expect(result.stdout).toContain('refused:  400 VEC_POLICY_BODY_UNREADABLE');
  });

  it('sends the body as bodyText with --addr, so the gateway judges the same bytes', async () => {
    const sent: RequestInit[] = [];
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      sent.push(init);
      return new Response(JSON.stringify({ decision: { effect: 'Allow', reason: 'ok' } }), {
        status: 200,
      });
    }) as typeof fetch;
    const body = file(Buffer.from('\uFEFF{"action":"drop"}'));
    await testRemote(
      fakeFetch,
      ...base.slice(2),
      '--body',
      body,
      '--header',
      'Content-Type: text/plain',
    );
    expect(JSON.parse(String(sent[0].body))).toMatchObject({
      headers: { 'content-type': 'text/plain' },
      bodyText: '\uFEFF{"action":"drop"}',
    });
  });
});
