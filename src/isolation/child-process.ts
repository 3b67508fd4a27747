/**
 * Runs the wrapped command the way a shell would: stdin, stdout and the terminal pass through,
 * signals sent to `vectra run` reach the child, and the child's exit status becomes ours
 * (128 + the signal number when it died of a signal, 127 when the command does not exist).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { constants } from 'node:os';

export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/**
 * Signals a terminal sends to its whole foreground process group (Ctrl-C, Ctrl-\): the child
 * already got them, and sending them again would count as a second key press (Claude Code, for
 * one, exits on the second Ctrl-C).
 */
const TERMINAL_SIGNALS: ReadonlySet<string> = new Set(['SIGINT', 'SIGQUIT']);

export const EXIT_NOT_FOUND = 127;
export const EXIT_NOT_EXECUTABLE = 126;

export interface ChildOptions {
  env: NodeJS.ProcessEnv;
  /** 'inherit' unless a test needs pipes. */
  stdio?: StdioOptions;
  /** Where signals arrive (process unless a test supplies an emitter). */
  signals?: EventEmitter;
  /** True when a terminal is attached, so Ctrl-C already reached the child. */
  terminal?: boolean;
  /** Called once the child runs (tests read its pipes). */
  onSpawn?: (child: ChildProcess) => void;
}

export interface ChildOutcome {
  exitCode: number;
  /** Set when the command could not be started: one line for stderr. */
  error?: string;
}

/** A shell's exit status for a child that exited with `code` or died of `signal`. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? constants.signals[signal] : undefined;
  return number === undefined ? 1 : 128 + number;
}

export function hasTerminal(): boolean {
  return Boolean(process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY);
}

export function runChild(
  command: string,
  args: readonly string[],
  options: ChildOptions,
): Promise<ChildOutcome> {
  const signals = options.signals ?? process;
  const terminal = options.terminal ?? hasTerminal();
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, stdio: options.stdio ?? 'inherit' });
    const forward = (signal: NodeJS.Signals) => {
      if (terminal && TERMINAL_SIGNALS.has(signal)) return;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    // Listening also keeps `vectra run` alive until the child decides what a signal means.
    for (const signal of FORWARDED_SIGNALS) signals.on(signal, forward);
    let settled = false;
    const settle = (outcome: ChildOutcome) => {
      if (settled) return;
      settled = true;
      for (const signal of FORWARDED_SIGNALS) signals.off(signal, forward);
      resolve(outcome);
    };
    child.once('spawn', () => options.onSpawn?.(child));
    child.on('error', (err: NodeJS.ErrnoException) => {
      // After a successful spawn, 'error' only reports a failed kill; the child still exits.
      if (child.pid !== undefined) return;
      settle(startFailure(command, err));
    });
    child.once('close', (code, signal) => {
      if (child.pid !== undefined) settle({ exitCode: exitStatus(code, signal) });
    });
  });
}

function startFailure(command: string, err: NodeJS.ErrnoException): ChildOutcome {
  if (err.code === 'ENOENT') {
    return { exitCode: EXIT_NOT_FOUND, error: `command not found: ${command}` };
  }
  if (err.code === 'EACCES') {
    return { exitCode: EXIT_NOT_EXECUTABLE, error: `permission denied: ${command}` };
  }
  return { exitCode: EXIT_NOT_FOUND, error: `cannot run ${command}: ${err.message}` };
}
