/**
 * Shared test helpers: bounded waits (never fixed sleeps), a message inbox, a logger
 * that records, and a private redis-server child process the outage tests may kill.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Logger } from '../../src/observability/types';

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Collects messages; `received(n)` resolves once n have arrived (bounded). */
export function messageInbox(timeoutMs = 5000): {
  handler: (message: string) => void;
  messages: string[];
  received(count: number): Promise<void>;
} {
  const messages: string[] = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  return {
    messages,
    handler(message) {
      messages.push(message);
      waiters = waiters.filter((waiter) => {
        if (messages.length < waiter.count) return true;
        waiter.resolve();
        return false;
      });
    },
    received(count) {
      if (messages.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`expected ${count} messages, got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

export interface LogLine {
  level: string;
  message: string;
  meta: Record<string, unknown>;
}

/** A Logger that keeps every line (children share the list, their meta merged in). */
export function recordingLogger(
  lines: LogLine[] = [],
  base: Record<string, unknown> = {},
): Logger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (message: string, meta: Record<string, unknown> = {}): void => {
      lines.push({ level, message, meta: { ...base, ...meta } });
    };
  return {
    lines,
    critical: at('critical'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: (meta) => recordingLogger(lines, { ...base, ...meta }),
  };
}

/** A key prefix no other test file or run shares. */
export function uniquePrefix(): string {
  return `vectra-test:${randomBytes(6).toString('hex')}:`;
}

/** A port that was free a moment ago (bound to 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export const hasRedisServerBinary = (): boolean =>
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** `describe` when redis-server can be started here; loudly skipped otherwise (never in CI). */
export function describeWithRedisServer(): jest.Describe {
  if (hasRedisServerBinary()) return describe;
  if (process.env.CI) throw new Error('CI requires the redis-server binary, and it is missing');
  console.warn('\n*** redis-server is not installed: skipping its suites (they fail in CI) ***\n');
  return describe.skip;
}

/** A redis-server of our own, on a fixed port so it can be killed and restarted in place. */
export class RedisServerProcess {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = []): Promise<RedisServerProcess> {
    const server = new RedisServerProcess(await freePort(), extraArgs);
    await server.restart();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) and resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''];
    const child = spawn('redis-server', [...args, '--appendonly', 'no', ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('did not start within 10 s')), 10_000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        this.child = undefined;
        child.kill('SIGKILL');
        reject(new Error(`redis-server on port ${this.port}: ${error.message}\n${output}`));
      };
      child.once('error', fail);
      child.once('exit', (code) => fail(new Error(`exited with ${code}`)));
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve();
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    });
  }

  /** SIGKILL, as a crash or a lost host would look to clients; resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGKILL');
      });
    }
  }
}
