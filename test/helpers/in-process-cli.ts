/** Runs `vectra` commands in-process, the way `main()` does, with a fake environment. */
import { Command, CommanderError } from 'commander';
import type { CommandContext } from '../../src/cli/command-context';
import { reportError } from '../../src/cli/output';

export interface InProcessRun {
  /**
   * The exit code: the command's own, 0 for --help, 2 for a usage error, 1 after reporting any
   * other error as `main()` does.
   */
  code: Promise<number>;
  /** What the command printed so far, one entry per write. */
  out: string[];
  err: string[];
}

/** `register` adds the commands under test to the program, with the context it receives. */
export function runInProcess(
  argv: string[],
  env: NodeJS.ProcessEnv,
  register: (program: Command, ctx: CommandContext) => void,
): InProcessRun {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
  const ctx: CommandContext = { io, env, version: '0.0.0', exitCode: 0 };
  const program = new Command('vectra')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  register(program, ctx);
  const code = program.parseAsync(argv, { from: 'user' }).then(
    () => ctx.exitCode,
    (error: unknown) => {
      if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
      reportError(io, error, false);
      return 1;
    },
  );
  return { code, out, err };
}
