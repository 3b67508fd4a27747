/**
 * The orchestrator's side of the IPC with the forked children (./upstream.ts, ./load.ts):
 * fork, wait for a first message, and send requests that each get one reply.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { extname, join } from 'node:path';
import type { ChildReply, ParentMessage } from './protocol';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = WithoutId<ParentMessage>;

export interface Child {
  readonly process: ChildProcess;
  ask(request: Request): Promise<ChildReply>;
  /** Asks the child to exit; kills it (by its own pid) if it has not within a second. */
  stop(): Promise<void>;
}

/**
 * How to run a sibling script: compiled JavaScript as is (what `npm run bench` does), or
 * TypeScript under ts-node when the orchestrator itself runs that way. Only ever ts-node when
 * needed: it loads node:repl, hence node:domain, whose async hook slows every promise and
 * event of the process that is being measured.
 */
export function sibling(script: string): { file: string; execArgv: string[] } {
  const extension = extname(__filename);
  return {
    file: join(__dirname, `${script}${extension}`),
    execArgv: extension === '.ts' ? ['-r', 'ts-node/register/transpile-only'] : [],
  };
}

/** Forks a sibling script (see `sibling`) with an IPC channel. */
export function forkChild(script: string, env: NodeJS.ProcessEnv = {}): Child {
  const { file, execArgv } = sibling(script);
  const child = fork(file, [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 1;
  const pending = new Map<
    number,
    { resolve: (r: ChildReply) => void; reject: (e: Error) => void }
  >();
  child.on('message', (message: ChildReply | { type: 'ready' }) => {
    if (!('id' in message)) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    waiter?.resolve(message);
  });
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${code})`));
    pending.clear();
  });
  return {
    process: child,
    ask(request) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ ...request, id } as ParentMessage);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ id: 0, type: 'exit' } satisfies ParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The child's first message of type `type` (its start-up report). */
export function firstMessage<T>(child: Child, type: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${type}" within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: { type?: string }) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.process.off('message', onMessage);
      resolve(message as T);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before "${type}"`));
    });
  });
}
