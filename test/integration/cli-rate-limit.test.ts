/**
 * `vectra rate-limit list|set|delete`, run in-process through `main()` against a real gateway
 * (real HTTP, real database): what each prints, its exit code, and the one-line errors.
 */
import { randomBytes } from 'node:crypto';
import { main } from '../../src/cli/main';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';

describe('vectra rate-limit', () => {
  const owner = `vec_adm_${randomBytes(32).toString('base64url')}`;
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await startTestGateway({
      Security__Admin__BootstrapToken: owner,
      System__RateLimit__DefaultRequestsPerMinute: '60',
      System__RateLimit__Burst: '10',
      System__RateLimit__AgentOverrides: 'ci-bot=600',
    });
  });
  afterAll(() => gateway?.close());

  async function vectra(...argv: string[]) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io = { out: (s: string) => stdout.push(s), err: (s: string) => stderr.push(s) };
    const env = { VECTRA_ADDR: gateway.urls.http, VECTRA_ADMIN_TOKEN: owner, HOME: '/nonexistent' };
    const code = await main(argv, io, env);
    return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
  }

  it('sets, lists and deletes overrides; a service name with a slash reaches the gateway whole', async () => {
    const set = await vectra('rate-limit', 'set', 'services', 'prod/github', '30');
    expect(set).toMatchObject({ code: 0, stdout: 'services prod/github: 30 requests per minute' });
    expect((await vectra('rate-limit', 'set', 'agents', 'ci-bot', '5')).code).toBe(0);

    const list = await vectra('rate-limit', 'list');
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(lines[0]).toBe('default: 60 per minute + burst 10 (60 s window)');
    expect(lines[1]).toMatch(/^TIER\s+NAME\s+PER MINUTE\s+SOURCE\s+UPDATED$/);
    expect(lines[2]).toMatch(/^agents\s+ci-bot\s+5\s+api \(config: 600\)\s+\d{4}-/);
    expect(lines[3]).toMatch(/^services\s+prod\/github\s+30\s+api\s+\d{4}-/);

    const json = JSON.parse((await vectra('rate-limit', 'list', '--json')).stdout);
    expect(json.overrides).toHaveLength(2);

    const deleted = await vectra('rate-limit', 'delete', 'services', 'prod/github');
    expect(deleted).toMatchObject({
      code: 0,
      stdout: 'removed the services override of prod/github',
    });
    expect((await vectra('rate-limit', 'delete', 'agents', 'ci-bot')).code).toBe(0);
    expect((await vectra('rate-limit', 'list')).stdout).toMatch(/agents\s+ci-bot\s+600\s+config$/m);
  });

  it('errors are one line with the code; bad usage exits 2 before anything is sent', async () => {
    const missing = await vectra('rate-limit', 'delete', 'agents', 'ci-bot');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'vectra: No rate-limit override was set through the API for agent "ci-bot"; the configured value (System.RateLimit.AgentOverrides: 600 per minute) remains in effect and can only be changed in the configuration. [VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND]',
    );
    const badName = await vectra('rate-limit', 'set', 'agents', 'Bad', '5');
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^vectra: agent name "Bad" must be .*\[VEC_REQUEST_INVALID\]$/);

    const badRate = await vectra('rate-limit', 'set', 'agents', 'x', '-3');
    expect(badRate.code).toBe(2);
    const zero = await vectra('rate-limit', 'set', 'agents', 'x', '0');
    expect(zero).toMatchObject({
      code: 2,
      stderr: 'vectra: <perMinute> must be a whole number from 1 to 2147483647, not "0"',
    });
    const badTier = await vectra('rate-limit', 'set', 'users', 'x', '5');
    expect(badTier.code).toBe(2);
    expect(badTier.stderr).toContain('Allowed choices are agents, vaults, services');
  });
});
