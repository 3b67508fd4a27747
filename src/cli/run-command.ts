/**
 * `vectra run [--vault V] [--ttl D] [--addr URL] [--proxy URL] [--no-proxy HOSTS]
 * [--no-node-preload] -- CMD…`: runs a command with its HTTP(S) traffic sent through the gateway
 * (host isolation). The logic lives in src/isolation/; this file only parses the command line
 * and reports the outcome.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ChildOptions } from '../isolation/child-process';
import { runContainer, type ContainerFlags } from '../isolation/container/container-run';
import { runHost, type HostRunFlags } from '../isolation/host-run';
import { fromEnv, RunError } from '../isolation/run-mode';
import { readLogin } from '../client/login-store';
import type { RegisterCommand } from './command-context';
import { parseTtl } from './vault-command';

export interface RunCommandDeps {
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Child stdio, signal source and terminal detection (tests). */
  child?: Omit<ChildOptions, 'env'>;
}

interface RunOptions extends HostRunFlags, ContainerFlags {
  /** The old spelling of --addr, still accepted. */
  address?: string;
  isolation?: string;
}

export const ISOLATION_MODES = ['host', 'container'] as const;
/** Where `--isolation` is read from when not given, primary name first. */
export const ISOLATION_ENV = ['VECTRA_ISOLATION', 'AGENT_VAULT_ISOLATION'] as const;

/** `--isolation`, else VECTRA_ISOLATION (or the seed's AGENT_VAULT_ISOLATION), else host. */
export function isolationMode(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): 'host' | 'container' {
  const chosen = flag ?? fromEnv(env, ISOLATION_ENV)?.value ?? 'host';
  if ((ISOLATION_MODES as readonly string[]).includes(chosen))
    return chosen as 'host' | 'container';
  throw new RunError(`--isolation must be host or container, not "${chosen}"`, 2);
}

function ttlOption(text: string): number {
  try {
    return parseTtl(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `--no-proxy` as a value option: commander would otherwise read it as "not --proxy". */
function noProxyOption(): Option {
  const option = new Option(
    '--no-proxy <hosts>',
    'more hosts that bypass the gateway, comma-separated; repeatable',
  ).argParser((value: string, previous: string[] = []) => [...previous, value]);
  option.negate = false;
  return option;
}

export const registerRunCommand: RegisterCommand<RunCommandDeps, Command> = (
  program,
  ctx,
  deps = {},
) => {
  const run = program
    .command('run')
    .description(
      "Run a command whose HTTP(S) traffic goes through the gateway, which adds the vault's credentials",
    )
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .option('--vault <name>', 'vault to use (default: $VECTRA_VAULT, else "default")')
    .option(
      '--ttl <duration>',
      'lifetime of the minted session: seconds, or 5m, 1h, 7d (default 24h; not with VECTRA_TOKEN)',
      ttlOption,
    )
    .option('--addr <url>', 'gateway API address (default: $VECTRA_ADDR, else the saved login)')
    .addOption(new Option('--address <url>', 'old spelling of --addr').hideHelp())
    .option(
      '--proxy <url>',
      "the gateway's forward proxy (default: $VECTRA_PROXY, else the address's host with the port the gateway advertises, else 7081)",
    )
    .addOption(noProxyOption())
    .option(
      '--isolation <mode>',
      'host (the command runs here, cooperatively) or container (in Docker, egress locked to the gateway); default $VECTRA_ISOLATION, else host',
    )
    .option(
      '--image <image>',
      'container: a custom image meeting the contract in docs/isolation.md',
    )
    .option(
      '--mount <src:dst[:ro]>',
      'container: an extra bind mount; repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--keep', 'container: keep the container after it exits (docker logs / inspect)')
    .option('--no-firewall', 'container, debug only: do not restrict egress (prints a warning)')
    .option(
      '--home-volume-shared',
      'container: keep /home/agent in a volume shared across runs (default: one per run)',
    )
    .option(
      '--share-agent-dir',
      "container: bind-mount the host's ~/.claude into the container's home",
    )
    .option(
      '--no-node-preload',
      "host: leave NODE_OPTIONS unchanged (no preload routing Node's fetch and http/https to the proxy)",
    )
    // Options after the command name belong to the command: without `--`, commander sees them.
    .showHelpAfterError('(put the command after --, e.g. `vectra run -- node -e "…"`)')
    .addHelpText(
      'after',
      [
        '',
        'Agent mode: with VECTRA_TOKEN set (a long-lived agent token or a session token), nothing is',
        'minted; VECTRA_ADDR and VECTRA_VAULT (or --addr, --vault) are required.',
        'AGENT_VAULT_TOKEN, AGENT_VAULT_ADDR and AGENT_VAULT_VAULT are accepted as aliases.',
        '',
        'Example: vectra run --vault default -- curl https://api.example.com/v1/me',
      ].join('\n'),
    )
    .action(async (command: string[], options: RunOptions) => {
      try {
        const flags = { ...options, addr: options.addr ?? options.address };
        const request = { flags, command, env: ctx.env, readLogin: () => readLogin(ctx.env) };
        const outcome =
          isolationMode(options.isolation, ctx.env) === 'container'
            ? await runContainer(
                { ...request, stderr: (text) => ctx.io.err(text.replace(/\n$/, '')) },
                { fetch: deps.fetch, child: deps.child },
              )
            : await runHost(request, { fetch: deps.fetch, child: deps.child });
        if (outcome.error) ctx.io.err(`vectra: ${outcome.error}`);
        ctx.exitCode = outcome.exitCode;
      } catch (err) {
        if (!(err instanceof RunError)) throw err;
        ctx.io.err(`vectra: ${err.message}`);
        if (err.hint) ctx.io.err(`hint: ${err.hint}`);
        ctx.exitCode = err.exitCode;
      }
    });
  return run;
};
