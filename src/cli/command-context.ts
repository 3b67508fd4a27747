/** What every command is handed: its output, environment, version and exit code. */
import type { Command } from 'commander';
import type { Io } from './output';

export interface CommandContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  version: string;
  exitCode: number;
  /** Where `--…-stdin` options read from (process.stdin unless a test supplies one). */
  stdin?: NodeJS.ReadableStream;
}

/** Adds a command (or a group) to `program`; `options` carries what tests replace. */
export type RegisterCommand<Options, Result = void> = (
  program: Command,
  ctx: CommandContext,
  options?: Options,
) => Result;
