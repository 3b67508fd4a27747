import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { exitStatus, runChild, type ChildOptions } from '../../src/isolation/child-process';

const node = process.execPath;

function options(extra: Partial<ChildOptions> = {}): ChildOptions {
  return { env: process.env, stdio: 'pipe', terminal: false, ...extra };
}

/** A child that prints "ready", then reports the signals it receives until told to stop. */
const SIGNAL_REPORTER = `
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) {
  process.on(s, () => {
    process.stdout.write('got ' + s + '\\n');
    if (s === 'SIGTERM') process.exit(42);
  });
}
process.stdout.write('ready\\n');
setInterval(() => undefined, 1000);
`;

/** Starts SIGNAL_REPORTER and resolves once it is ready to receive signals. */
async function startReporter(signals: EventEmitter, terminal: boolean) {
  let output = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const waitFor = (text: string) =>
    new Promise<void>((resolve) => {
      if (output.includes(text)) resolve();
      else waiters.push({ text, resolve });
    });
  const outcome = runChild(node, ['-e', SIGNAL_REPORTER], {
    ...options({ signals, terminal }),
    onSpawn: (child) =>
      child.stdout!.on('data', (d: Buffer) => {
        output += d.toString();
        for (const w of waiters) if (output.includes(w.text)) w.resolve();
      }),
  });
  await waitFor('ready');
  return { outcome, output: () => output, waitFor };
}

describe('vectra run: exit status of the child', () => {
  it('is the exit code of the child', async () => {
    await expect(runChild(node, ['-e', 'process.exit(7)'], options())).resolves.toEqual({
      exitCode: 7,
    });
    await expect(runChild(node, ['-e', ''], options())).resolves.toEqual({ exitCode: 0 });
  });

  it('is 128 + the signal number when the child dies of a signal', async () => {
    const outcome = await runChild(node, ['-e', "process.kill(process.pid, 'SIGKILL')"], options());
    expect(outcome.exitCode).toBe(128 + constants.signals.SIGKILL);
    expect(outcome.exitCode).toBe(137);
  });

  it('is 127 with one line when the command does not exist', async () => {
    const outcome = await runChild('vectra-no-such-command-xyz', [], options());
    expect(outcome).toEqual({
      exitCode: 127,
      error: 'command not found: vectra-no-such-command-xyz',
    });
  });

  it('is 126 when the file is not executable', async () => {
    const outcome = await runChild(__filename, [], options());
    expect(outcome).toEqual({ exitCode: 126, error: `permission denied: ${__filename}` });
  });

  it.each([
    [0, null, 0],
    [3, null, 3],
    [null, 'SIGTERM', 143],
    [null, 'SIGINT', 130],
    [null, 'SIGHUP', 129],
  ] as const)('exitStatus(%p, %p) = %i', (code, signal, status) => {
    expect(exitStatus(code, signal)).toBe(status);
  });
});

describe('vectra run: signals reach the child', () => {
  it('forwards SIGTERM and the child decides the exit code', async () => {
    const signals = new EventEmitter();
    const run = await startReporter(signals, false);
    signals.emit('SIGTERM', 'SIGTERM');
    await expect(run.outcome).resolves.toEqual({ exitCode: 42 });
    expect(run.output()).toContain('got SIGTERM');
  });

  it('forwards SIGINT, SIGHUP and SIGQUIT without a terminal', async () => {
    const signals = new EventEmitter();
    const run = await startReporter(signals, false);
    for (const s of ['SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
      signals.emit(s, s);
      await run.waitFor(`got ${s}`);
    }
    signals.emit('SIGTERM', 'SIGTERM');
    await expect(run.outcome).resolves.toEqual({ exitCode: 42 });
  });

  it('with a terminal, does not repeat the Ctrl-C the terminal already sent to the child', async () => {
    const signals = new EventEmitter();
    const run = await startReporter(signals, true);
    signals.emit('SIGINT', 'SIGINT');
    signals.emit('SIGQUIT', 'SIGQUIT');
    signals.emit('SIGTERM', 'SIGTERM');
    await expect(run.outcome).resolves.toEqual({ exitCode: 42 });
    expect(run.output()).not.toMatch(/got SIGINT|got SIGQUIT/);
  });

  it('stops listening for signals once the child has exited', async () => {
    const signals = new EventEmitter();
    await runChild(node, ['-e', ''], options({ signals }));
    expect(signals.eventNames()).toEqual([]);
  });
});
