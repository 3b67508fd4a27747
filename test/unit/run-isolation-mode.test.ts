import { main } from '../../src/cli/main';
import { isolationMode } from '../../src/cli/run-command';
import { RunError } from '../../src/isolation/run-mode';

describe('vectra run: which isolation', () => {
  it.each([
    [undefined, {}, 'host'],
    ['container', {}, 'container'],
    [undefined, { VECTRA_ISOLATION: 'container' }, 'container'],
    [undefined, { AGENT_VAULT_ISOLATION: 'container' }, 'container'],
    ['host', { VECTRA_ISOLATION: 'container' }, 'host'],
    [undefined, { VECTRA_ISOLATION: 'host', AGENT_VAULT_ISOLATION: 'container' }, 'host'],
  ] as const)('--isolation %s with %j → %s', (flag, env, expected) => {
    expect(isolationMode(flag, env)).toBe(expected);
  });

  it('refuses another mode with a usage error naming it', () => {
    expect(() => isolationMode('vm', {})).toThrow(RunError);
    expect(() => isolationMode(undefined, { VECTRA_ISOLATION: 'vm' })).toThrow(
      '--isolation must be host or container, not "vm"',
    );
  });

  it('`vectra vault run` is the same command as `vectra run`, flags included', async () => {
    const help = async (argv: string[]) => {
      const out: string[] = [];
      const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
      expect(await main(argv, io, {})).toBe(0);
      return out.join('');
    };
    const run = await help(['run', '--help']);
    const alias = await help(['vault', 'run', '--help']);
    for (const flag of [
      '--isolation <mode>',
      '--image <image>',
      '--mount <src:dst[:ro]>',
      '--keep',
      '--no-firewall',
      '--home-volume-shared',
      '--share-agent-dir',
    ]) {
      expect(run).toContain(flag);
      expect(alias).toContain(flag);
    }
  });

  it('container mode on Windows is refused before anything starts', async () => {
    const { runContainer } = await import('../../src/isolation/container/container-run');
    await expect(
      runContainer(
        {
          flags: {},
          command: ['true'],
          env: {},
          readLogin: () => undefined,
          stderr: () => undefined,
        },
        { platform: 'win32' },
      ),
    ).rejects.toThrow('container isolation is not supported on Windows');
  });
});
