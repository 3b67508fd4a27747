/**
 * `vectra approvals watch [--vault V] [--interactive] [--json]`: follows
 * `/v1/approvals/events` and prints each approval waiting for a decision as it arrives, then what
 * becomes of it. Interactive (stdin a terminal, or `--interactive`), it asks after each new
 * approval whether to approve it once, for a session or always, or to deny it, and calls the
 * API. A dropped stream is reopened after the server's `retry:` delay; Ctrl-C exits 0.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Approval, ApprovalEvent } from '../approvals/types';
import { isGatewayError } from '../errors';
import { resolveAddress, resolveToken, type ApiClient } from '../client/api-client';
import { readEventStream } from '../client/event-stream';
import { readLogin } from '../client/login-store';
import type { AdminCli, ConnectionFlags, StdinStream } from './admin-cli';
import { approvalBlock, eventLine } from './approval-text';
import { abortOnInterrupt, type OnInterrupt } from './interrupt';
import { reportError, type Io } from './output';

export interface WatchOptions {
  /** Ctrl-C; default SIGINT/SIGTERM. */
  onInterrupt?: OnInterrupt;
  /** Waits `ms` before reconnecting, or until `signal` aborts (tests answer at once). */
  reconnectWait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface WatchFlags extends ConnectionFlags {
  vault?: string;
  interactive?: boolean;
}

const EVENTS_PATH = '/v1/approvals/events';
/** Until the server says otherwise with `retry:`. */
const DEFAULT_RETRY_MS = 3000;
const MAX_MINUTES = 10_080;
export const PROMPT = 'approve [o]nce / [s]ession / [a]lways / [d]eny / [enter] skip';

export function registerWatchCommand(parent: Command, cli: AdminCli, options: WatchOptions): void {
  cli
    .connection(parent.command('watch'))
    .description(
      'Print approvals as they arrive and what becomes of them; on a terminal, ask for a decision',
    )
    .option('--vault <name>', 'only this vault')
    .option('--interactive', 'ask for a decision after each new approval even when stdin is piped')
    .option('--no-interactive', 'never ask, even on a terminal')
    .addHelpText(
      'after',
      `\nInteractive, each new approval is followed by\n  ${PROMPT}\nsession asks for the minutes, deny for the reason. With --json, one JSON line per event:\n{"type":"pending"|"created"|"approved"|"denied"|"expired"|"used"|"revoked", "approval":{…}}.`,
    )
    .action(cli.action((flags: WatchFlags) => watch(cli, flags, options)));
}

async function watch(cli: AdminCli, flags: WatchFlags, options: WatchOptions): Promise<void> {
  const { io, env } = cli.ctx;
  const login = readLogin(env);
  const addr = resolveAddress(flags.addr, env, login);
  const token = resolveToken(addr, env, login);
  const client = cli.client(flags);
  const stdin = cli.stdin();
  const interactive = flags.interactive ?? Boolean(stdin.isTTY);
  const decider = interactive ? createDecider(client, stdin, io) : undefined;

  const shown = new Set<string>();
  const show = (approval: Approval, type: 'pending' | 'created', at?: string) => {
    if (flags.vault !== undefined && approval.vault !== flags.vault) return;
    if (shown.has(approval.id)) return;
    shown.add(approval.id);
    io.out(flags.json ? JSON.stringify({ type, at, approval }) : approvalBlock(approval));
    decider?.ask(approval);
  };
  let connected = false;
  const onEvent = ({ name, data }: { name: string; data: string }) => {
    if (name === 'pending') {
      const { approvals } = JSON.parse(data) as { approvals: Approval[] };
      // Oldest first, as they would have arrived.
      for (const approval of approvals.slice().reverse()) show(approval, 'pending');
      if (!connected) {
        const where = flags.vault === undefined ? '' : ` in vault ${flags.vault}`;
        io.err(`watching approvals${where}; press Ctrl-C to stop`);
      }
      connected = true;
    } else if (name === 'approval') {
      const event = JSON.parse(data) as ApprovalEvent;
      if (event.type === 'created') return show(event.approval, 'created', event.at);
      if (flags.vault !== undefined && event.approval.vault !== flags.vault) return;
      decider?.forget(event.approval.id);
      io.out(flags.json ? JSON.stringify(event) : eventLine(event));
    }
  };

  const interrupt = abortOnInterrupt(options.onInterrupt);
  const wait = options.reconnectWait ?? delay;
  let retryMs = DEFAULT_RETRY_MS;
  const streamOptions = {
    fetch: cli.fetch,
    signal: interrupt.signal,
    onRetry: (ms: number) => (retryMs = ms),
  };
  try {
    for (;;) {
      try {
        await readEventStream(addr, token, EVENTS_PATH, streamOptions, onEvent);
        if (interrupt.signal.aborted) return;
        io.err(`${addr} ended the approval stream; reconnecting in ${retryMs / 1000} s`);
      } catch (err) {
        if (interrupt.signal.aborted) return; // Ctrl-C: a normal end
        // Refusals, and a gateway never reached, end the command; a dropped stream does not.
        if (!connected || !isGatewayError(err) || err.code !== 'VEC_CLI_UNREACHABLE') throw err;
        io.err(`vectra: ${err.message}; reconnecting in ${retryMs / 1000} s`);
      }
      await wait(retryMs, interrupt.signal);
      if (interrupt.signal.aborted) return;
    }
  } finally {
    interrupt.release();
    await decider?.close();
  }
}

/**
 * Asks about one approval at a time, in the order they arrived, reading answers line by line
 * from stdin. Stdin ending stops the asking; an approval decided elsewhere is not asked about.
 */
function createDecider(client: ApiClient, stdin: StdinStream, io: Io) {
  const rl = createInterface({ input: stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  let ended = false;
  const queue: Approval[] = [];
  const open = new Set<string>();
  let draining = false;
  let asking = Promise.resolve();

  async function readLine(question: string): Promise<string | undefined> {
    if (ended) return undefined;
    io.err(question);
    const next = await lines.next();
    if (next.done) ended = true;
    return next.done ? undefined : (next.value as string).trim();
  }

  async function send(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      reportError(io, err, false);
    }
  }

  async function decide(a: Approval): Promise<void> {
    for (;;) {
      const answer = await readLine(`${a.id}: ${PROMPT}`);
      if (answer === undefined) return;
      if (!open.has(a.id)) return io.err(`${a.id} was decided meanwhile`);
      const choice = answer.toLowerCase();
      if (choice === '') return io.err(`skipped ${a.id}`);
      if (choice === 'o' || choice === 'once') {
        return send(() => client.approve(a.id, { scope: 'once' }));
      }
      if (choice === 'a' || choice === 'always') {
        return send(() => client.approve(a.id, { scope: 'always' }));
      }
      if (choice === 's' || choice === 'session') {
        const text = await readLine(`minutes for the session approval (1 to ${MAX_MINUTES}):`);
        if (text === undefined) return;
        const minutes = /^\d+$/.test(text) ? Number(text) : 0;
        if (minutes < 1 || minutes > MAX_MINUTES) {
          io.err(`"${text}" is not a number of minutes from 1 to ${MAX_MINUTES}`);
          continue;
        }
        return send(() => client.approve(a.id, { scope: 'session', minutes }));
      }
      if (choice === 'd' || choice === 'deny') {
        const reason = await readLine('reason for the denial (shown to the agent):');
        if (reason === undefined) return;
        if (reason === '') {
          io.err('a denial needs a reason');
          continue;
        }
        return send(() => client.deny(a.id, reason));
      }
      io.err('answer o, s, a or d, or press Enter to skip');
    }
  }

  async function drain(): Promise<void> {
    try {
      for (let next = queue.shift(); next && !ended; next = queue.shift()) {
        if (open.has(next.id)) await decide(next);
      }
    } finally {
      draining = false;
    }
  }

  return {
    ask(approval: Approval) {
      open.add(approval.id);
      queue.push(approval);
      if (draining) return;
      draining = true;
      asking = drain();
    },
    forget(id: string) {
      open.delete(id);
    },
    async close() {
      ended = true;
      rl.close();
      await asking;
    },
  };
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
