/**
 * The Internal provider over a real directory with a real watcher: a broken file is refused
 * with a log line naming it and the problem, the last good set stays active, and a fix is
 * picked up. Tests wait for the engine's reload events, never for time to pass.
 */
import { renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../../src/errors';
import { policyHealthCheck } from '../../src/policy/directory-health';
import { createPolicyEngine, disabledPolicyEngine } from '../../src/policy/engine';
import { describedRequestInput } from '../../src/policy/input';
import { createInternalEngine, type InternalPolicyEngine } from '../../src/policy/internal-engine';
import type { ReloadResult } from '../../src/policy/types';
import { REPO_ROOT, testConfig } from '../helpers/gateway';
import { rule, when } from '../helpers/policy-documents';
import { recordingLogger, type LogLine } from '../helpers/waiting-and-processes';
import { tempDir } from '../helpers/temp-dir';

const request = (method = 'GET') =>
  describedRequestInput({
    agent: 'bot',
    vault: 'team',
    method,
    url: 'https://api.example.com/v1/items',
    body: { size: 0 },
    now: Date.now(),
  });

const policy = (name: string, defaultEffect: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name, default: defaultEffect, rules: [], ...extra });

/** Writes whole files only (temp name, then rename), as editors and ConfigMaps do. */
function put(dir: string, name: string, text: string): void {
  const temp = join(dir, `.${name}.tmp`);
  writeFileSync(temp, text);
  renameSync(temp, join(dir, name));
}

/** Resolves with the first reload whose result satisfies `wanted` (reload events, no polling). */
function reloadWhere(
  engine: InternalPolicyEngine,
  wanted: (result: ReloadResult) => boolean,
): Promise<ReloadResult> {
  return new Promise((resolve) => {
    const off = engine.onReload((result) => {
      if (!wanted(result)) return;
      off();
      resolve(result);
    });
  });
}

/** Runs `change`, then reloads explicitly (the watcher may also fire; the result is the same). */
async function reloadAfter(
  engine: InternalPolicyEngine,
  change: () => void,
): Promise<ReloadResult> {
  change();
  return engine.reload();
}

describe('the Internal provider', () => {
  let dir: string;
  let lines: LogLine[];
  let engine: InternalPolicyEngine | undefined;

  beforeEach(() => {
    dir = tempDir('vectra-policy-engine-');
    lines = [];
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () =>
    createInternalEngine({
      directory: dir,
      logger: recordingLogger(lines),
      debounceMs: 20,
      retryMs: 20,
    });

  it('loads the directory at start and decides', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();
    expect(await engine.evaluate(request())).toMatchObject({ effect: 'Allow', policy: 'a' });
    expect(engine.status!()).toEqual({
      ready: true,
      stale: false,
      description: `1 policies from ${dir}`,
    });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', message: `policies loaded: 1 from ${dir}` }),
    );
  });

  it('reloads when a file changes', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();
    const reloaded = reloadWhere(engine, (r) => r.ok && r.changed);
    put(dir, 'b.json', policy('b', 'Deny'));
    expect(await reloaded).toMatchObject({ ok: true, policies: 2 });
    expect(await engine.evaluate(request())).toMatchObject({ effect: 'Deny', policy: 'b' });
  });

  it('refuses a broken file, keeps the last good set, and takes the fix', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();

    const refused = reloadWhere(engine, (r) => !r.ok);
    put(dir, 'a.json', '{\n  "name": "a",\n  "default": "Deny",\n}\n');
    const result = await refused;
    expect(result.problems).toEqual([
      expect.objectContaining({ file: join(dir, 'a.json'), line: 4, column: 1 }),
    ]);
    expect(await engine.evaluate(request())).toMatchObject({ effect: 'Allow', policy: 'a' });
    expect(engine.status!()).toMatchObject({ ready: true, stale: true });
    expect(lines).toContainEqual({
      level: 'error',
      message: `policy file refused: ${join(dir, 'a.json')}:4:1: invalid JSON: a comma before '}' (JSON allows no trailing comma); the last good set (1 policies) stays active`,
      meta: expect.objectContaining({ code: 'VEC_POLICY_INVALID', file: join(dir, 'a.json') }),
    });

    const fixed = reloadWhere(engine, (r) => r.ok);
    put(dir, 'a.json', policy('a', 'Deny'));
    expect(await fixed).toMatchObject({ ok: true, changed: true, policies: 1 });
    expect(await engine.evaluate(request())).toMatchObject({ effect: 'Deny', policy: 'a' });
    expect(engine.status!()).toMatchObject({ ready: true, stale: false });
  });

  it('refuses a set with an unknown operator or a bad regex as a whole', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();
    const refused = reloadWhere(engine, (r) => !r.ok && r.problems.length === 2);
    put(dir, 'c.json', policy('c', 'Allow'));
    put(
      dir,
      'b.json',
      policy('b', 'Deny', {
        rules: [
          rule('r', 'Deny', 'x', [when('path', 'like', 'x'), when('path', 'regex', '(a*)*')]),
        ],
      }),
    );
    const result = await refused;
    expect(result.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      expect.stringMatching(/^rules\[0\]\.conditions\[0\]\.operator: unknown operator "like"/),
      expect.stringMatching(/^rules\[0\]\.conditions\[1\]\.value: regex "\(a\*\)\*" repeats/),
    ]);
    // c.json alone was fine, but the set is refused whole: still only `a`.
    expect(engine.policies().map((p) => p.name)).toEqual(['a']);
    const errors = lines.filter((l) => l.level === 'error').map((l) => l.message);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${join(dir, 'b.json')}: rules[0].conditions[0].operator`),
        expect.stringContaining(`${join(dir, 'b.json')}: rules[0].conditions[1].value`),
      ]),
    );
  });

  it('without a good set at start, refuses every request until the files are fixed', async () => {
    put(dir, 'a.json', '{ "name": "a" ');
    engine = await start();
    await expect(engine.evaluate(request())).rejects.toMatchObject({
      code: 'VEC_POLICY_UNAVAILABLE',
      message: expect.stringContaining(`${join(dir, 'a.json')}:1:15: invalid JSON`),
    });
    expect(engine.status!()).toMatchObject({ ready: false });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining('no policy set is active, so every request is refused'),
      }),
    );
    const fixed = reloadWhere(engine, (r) => r.ok);
    put(dir, 'a.json', policy('a', 'Allow'));
    await fixed;
    expect((await engine.evaluate(request())).effect).toBe('Allow');
  });

  it('waits for a missing directory and loads it once it appears', async () => {
    const later = join(dir, 'later');
    engine = await createInternalEngine({
      directory: later,
      logger: recordingLogger(lines),
      debounceMs: 20,
      retryMs: 20,
    });
    const error = await engine.evaluate(request()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).message).toContain('cannot be read (ENOENT)');
    const loaded = reloadWhere(engine, (r) => r.ok && r.policies === 1);
    mkdirSync(later);
    put(later, 'a.json', policy('a', 'Hitl'));
    await loaded;
    expect((await engine.evaluate(request())).effect).toBe('Hitl');
  });

  it('with no policy at all, refuses every request and warns at load', async () => {
    engine = await start();
    expect(await engine.evaluate(request('GET'))).toEqual({
      effect: 'Deny',
      reason:
        'No policy applies to agent bot in vault team, and a request no policy covers is refused.',
    });
    expect(engine.status!()).toMatchObject({
      ready: true,
      description: `no policies in ${dir}: every request is refused`,
    });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: `no policies in ${dir}: every request is refused until one is added`,
      }),
    );
  });

  it('tells /health: Unhealthy without a good set, Degraded while a change is refused', async () => {
    put(dir, 'a.json', '{');
    engine = await start();
    const check = policyHealthCheck(
      testConfig({ Policy__Providers__Internal__Directory: dir }).Policy,
      engine,
    );
    expect(await check.run()).toMatchObject({
      status: 'Unhealthy',
      description: expect.stringContaining('no valid policy set loaded from the policy directory'),
    });
    expect(JSON.stringify(await check.run())).not.toContain(dir);
    await reloadAfter(engine, () => put(dir, 'a.json', policy('a', 'Allow')));
    expect(await check.run()).toMatchObject({
      status: 'Healthy',
      description: '1 policies from the policy directory',
    });
    await reloadAfter(engine, () => put(dir, 'a.json', '{'));
    expect(await check.run()).toMatchObject({
      status: 'Degraded',
      description: expect.stringContaining('the last change was refused'),
    });
    expect(JSON.stringify(await check.run())).not.toContain(dir);
  });

  it('reports unchanged files as unchanged', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();
    expect(await engine.reload()).toMatchObject({ ok: true, changed: false });
  });

  it('says whether any policy reads the body', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();
    expect(engine.needsBody!()).toBe(false);
    put(
      dir,
      'b.json',
      policy('b', 'Allow', {
        rules: [rule('r', 'Deny', 'x', [when('body.query', 'contains', 'mutation')])],
      }),
    );
    await engine.reload();
    expect(engine.needsBody!()).toBe(true);
  });

  it('explains its decision policy by policy', async () => {
    put(dir, 'a.json', policy('a', 'Allow'));
    engine = await start();
    expect(await engine.explain(request())).toEqual({
      decision: expect.objectContaining({ effect: 'Allow' }),
      trace: [
        { policy: 'a', file: join(dir, 'a.json'), applies: true, effect: 'Allow', rules: [] },
      ],
    });
  });
});

describe('createPolicyEngine', () => {
  it('allows everything, saying so, when Policy.Enabled is false', async () => {
    const engine = await createPolicyEngine(testConfig({ Policy__Enabled: 'false' }).Policy, {
      logger: recordingLogger(),
    });
    expect(engine).toBe(disabledPolicyEngine);
    expect(await engine.evaluate(request('DELETE'))).toEqual({
      effect: 'Allow',
      reason: 'The policy engine is disabled (Policy.Enabled=false), so every request is allowed.',
    });
  });

  it('builds the Internal provider over the shipped examples by default', async () => {
    const examples = testConfig({
      Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
    });
    const engine = await createPolicyEngine(examples.Policy, {
      logger: recordingLogger(),
      watch: false,
    });
    try {
      expect(engine.provider).toBe('Internal');
      expect((await engine.evaluate(request('GET'))).effect).toBe('Allow');
      expect((await engine.evaluate(request('POST'))).effect).toBe('Hitl');
    } finally {
      await engine.close();
    }
  });

  it('builds the OPA provider, refusing a bad data path at construction', async () => {
    const config = testConfig({ Policy__DefaultProvider: 'Opa' }).Policy;
    expect((await createPolicyEngine(config, { logger: recordingLogger() })).provider).toBe('Opa');
    await expect(
      createPolicyEngine(
        {
          ...config,
          Providers: { ...config.Providers, Opa: { ...config.Providers.Opa, Path: '../x' } },
        },
        { logger: recordingLogger() },
      ),
    ).rejects.toMatchObject({ code: 'VEC_CONFIG_INVALID' });
  });
});
