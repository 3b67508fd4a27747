/**
 * What the commands that drive the admin API share: the API client for a command's `--addr`,
 * reading a secret from stdin, and `--json` or table output.
 */
import { createInterface } from 'node:readline';
import { CommanderError, Option, type Command } from 'commander';
import { EXIT } from '../errors';
import {
  createApiClient,
  resolveAddress,
  resolveToken,
  UsageError,
  type ApiClient,
} from '../client/api-client';
import { readLogin } from '../client/login-store';
import type { CommandContext } from './command-context';

/** Options every admin command accepts. */
export interface ConnectionFlags {
  addr?: string;
  json?: boolean;
}

export interface TokenFlags extends ConnectionFlags {
  tokenOnly?: boolean;
}

export type StdinStream = NodeJS.ReadableStream & { isTTY?: boolean };

export interface AdminCommandOptions {
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Replaces process.stdin (tests). */
  stdin?: StdinStream;
}

/** What the command groups share; built once by registerAdminCommands. */
export interface AdminCli {
  ctx: CommandContext;
  fetch?: typeof fetch;
  /** The API client for `--addr`, VECTRA_ADDR / VECTRA_ADMIN_TOKEN and the saved login. */
  client(flags: ConnectionFlags): ApiClient;
  /** Standard input: the test's stream, the context's, else process.stdin (touched only here). */
  stdin(): StdinStream;
  /** Standard input as text: to EOF when piped, the first line when it is a terminal. */
  readStdin(what: string): Promise<string>;
  /** `data` as JSON with --json, else the human rendering. */
  print(flags: ConnectionFlags, data: unknown, human: () => string): void;
  /** Prints a token minted just now, once: alone with --token-only, else with a warning. */
  printMinted(flags: TokenFlags, answer: { token: string }, summary: string): void;
  /** `--token-only`, for `TOKEN=$(vectra agent create a --token-only)`. */
  tokenOnlyOption(): Option;
  /** Adds `--addr` and `--json` to a command. */
  connection(command: Command): Command;
  /**
   * Describes `command` and gives it an action that asks the API once and prints the answer:
   * as JSON with --json, else `human`. `args` are the command's arguments, in order.
   */
  query<F extends ConnectionFlags, T>(
    command: Command,
    description: string,
    ask: (client: ApiClient, flags: F, args: string[]) => Promise<T>,
    human: (answer: T, flags: F, args: string[]) => string,
  ): Command;
  /** Wraps an action: a UsageError prints one line and exits 2. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

/** Stdin longer than this is not a token or a credential value. */
const MAX_STDIN_BYTES = 1024 * 1024;

export function createAdminCli(ctx: CommandContext, options: AdminCommandOptions = {}): AdminCli {
  const print: AdminCli['print'] = (flags, data, human) =>
    ctx.io.out(flags.json ? JSON.stringify(data, null, 2) : human());
  const client: AdminCli['client'] = (flags) => {
    const login = readLogin(ctx.env);
    const addr = resolveAddress(flags.addr, ctx.env, login);
    return createApiClient({
      addr,
      token: resolveToken(addr, ctx.env, login),
      fetch: options.fetch,
    });
  };
  const stdin = () => options.stdin ?? (ctx.stdin as StdinStream | undefined) ?? process.stdin;
  return {
    ctx,
    fetch: options.fetch,
    client,
    stdin,
    readStdin: (what) => readStdinText(stdin(), what, ctx),
    print,
    printMinted(flags, answer, summary) {
      if (flags.tokenOnly) {
        ctx.io.out(answer.token);
        return;
      }
      print(flags, answer, () => `${summary}\ntoken: ${answer.token}`);
      ctx.io.err('save this token now: it will not be shown again');
    },
    tokenOnlyOption: () =>
      new Option('--token-only', 'print only the token on stdout').conflicts('json'),
    connection: (command) =>
      command
        .option('--addr <url>', 'gateway address (default: $VECTRA_ADDR, else the saved login)')
        .option('--json', 'machine-readable output'),
    query: <F extends ConnectionFlags, T>(
      command: Command,
      description: string,
      ask: (client: ApiClient, flags: F, args: string[]) => Promise<T>,
      human: (answer: T, flags: F, args: string[]) => string,
    ) =>
      command.description(description).action(
        // commander calls an action with the arguments, then the options, then the command
        usageAction(ctx, async (...given: unknown[]) => {
          const args = given.slice(0, -2) as string[];
          const flags = given[given.length - 2] as F;
          const answer = await ask(client(flags), flags, args);
          print(flags, answer, () => human(answer, flags, args));
        }),
      ),
    action: (fn) => usageAction(ctx, fn),
  };
}

/** Wraps an action: a UsageError prints one line and exits 2. */
export function usageAction<A extends unknown[]>(
  ctx: CommandContext,
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      ctx.io.err(`vectra: ${err.message}`);
      throw new CommanderError(EXIT.CONFIG_OR_USAGE, 'vectra.usage', err.message);
    }
  };
}

async function readStdinText(
  input: StdinStream,
  what: string,
  ctx: CommandContext,
): Promise<string> {
  if (input.isTTY) {
    ctx.io.err(`reading the ${what} from the terminal; type or paste it, then press Enter`);
    const lines = createInterface({ input, terminal: false });
    try {
      for await (const line of lines) return line;
      return '';
    } finally {
      lines.close();
    }
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError(`stdin is too long for a ${what}`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
