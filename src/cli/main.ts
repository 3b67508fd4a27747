/**
 * The `vectra` command line. `main(argv)` returns the exit code:
 *   0 success · 1 failure (runtime error, gateway unreachable or Unhealthy) · 2 invalid
 *   configuration or usage.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError, EXIT } from '../errors';
import { registerAdminCommands } from './admin-commands';
import { registerCaCommand } from './ca-command';
import type { CommandContext } from './command-context';
import { registerConfigCommands } from './config-command';
import { registerHealthCommand } from './health-command';
import { registerLogsCommand } from './logs-command';
import { registerMasterPasswordCommand } from './master-password-command';
import { processIo, reportError, type Io } from './output';
import { registerPolicyCommand } from './policy-command';
import { registerRunCommand } from './run-command';
import { registerServeCommand } from './serve-command';

/** The package's version. */
export const VERSION: string = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** What `--version` prints: APP_VERSION when set (the image's build argument), else VERSION. */
export function appVersion(env: NodeJS.ProcessEnv): string {
  return env.APP_VERSION?.trim() || VERSION;
}

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('vectra')
    .description('Vectra: a policy-driven security gateway for AI agents')
    .version(ctx.version, '-v, --version')
    .option('--debug', 'print stack traces with errors')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .showHelpAfterError('(run `vectra --help` for usage)');
  registerServeCommand(program, ctx);
  registerConfigCommands(program, ctx);
  registerHealthCommand(program, ctx);
  registerMasterPasswordCommand(program, ctx);
  registerAdminCommands(program, ctx);
  registerLogsCommand(program, ctx);
  registerRunCommand(program, ctx);
  // `vectra vault run`: the seed's spelling (`agent-vault vault run`), the same command.
  const vault = program.commands.find((command) => command.name() === 'vault');
  if (vault)
    registerRunCommand(vault, ctx).description("The same as `vectra run` (the seed's spelling)");
  registerCaCommand(program, ctx);
  registerPolicyCommand(program, ctx);
  return program;
}

export async function main(
  argv: string[],
  io: Io = processIo,
  env: NodeJS.ProcessEnv = process.env,
  stdin?: NodeJS.ReadableStream,
): Promise<number> {
  const ctx: CommandContext = { io, env, version: appVersion(env), exitCode: EXIT.OK, stdin };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with code 0; usage errors are already printed.
      return err.exitCode === 0 ? EXIT.OK : EXIT.CONFIG_OR_USAGE;
    }
    reportError(io, err, argv.includes('--debug'));
    return err instanceof ConfigError ? EXIT.CONFIG_OR_USAGE : EXIT.FAILURE;
  }
}
