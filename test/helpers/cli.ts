/** Runs the built `vectra` CLI (bin/vectra.js → dist/, built by the global setup) as a child process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './gateway';
import { tempDir } from './temp-dir';

export const VECTRA_BIN = join(REPO_ROOT, 'bin', 'vectra.js');

/** Resolved here: a child runs in another directory and must not depend on its cwd. */
const UNDICI = require.resolve('undici');

/**
 * A script for `node -e`: GETs `url` through HTTPS_PROXY (undici's EnvHttpProxyAgent, the CA from
 * NODE_EXTRA_CA_CERTS) and prints the status, a space and the body.
 */
export function undiciFetchScript(url: string): string {
  return `
const { EnvHttpProxyAgent, fetch } = require(${JSON.stringify(UNDICI)});
const dispatcher = new EnvHttpProxyAgent();
fetch(${JSON.stringify(url)}, { dispatcher })
  .then(async (res) => {
    const text = await res.text();
    await dispatcher.close();
    process.stdout.write(res.status + ' ' + text);
  })
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });`;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment without the developer's own Vectra settings leaking into a test. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.includes('__') && !name.startsWith('VECTRA_')) env[name] = value;
  }
  return {
    ...env,
    Observability__Logging__File__Enabled: 'false',
    System__Proxy__Port: '0',
    ...extra,
  };
}

/** A directory laid out like a fresh clone: config/appsettings.json and policies/. */
export function freshWorkdir(): string {
  const dir = tempDir('vectra-cli-');
  mkdirSync(join(dir, 'config'));
  cpSync(join(REPO_ROOT, 'config', 'appsettings.json'), join(dir, 'config', 'appsettings.json'));
  cpSync(join(REPO_ROOT, 'policies'), join(dir, 'policies'), { recursive: true });
  return dir;
}

export function startCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [VECTRA_BIN, ...args], {
    cwd: options.cwd ?? freshWorkdir(),
    env: cleanEnv(options.env),
  });
}

export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const child = startCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Resolves with the first stderr match of `pattern` (e.g. the "API on …" line of `serve`). */
export function waitForOutput(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      const match = seen.match(pattern);
      if (match) {
        child.stderr.off('data', onData);
        resolve(match);
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`exited with ${code} before ${pattern}: ${seen}`)),
    );
  });
}

export function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface ServingCli {
  child: ChildProcessWithoutNullStreams;
  /** The forward proxy's URL, as the start-up line names it. */
  proxy: string;
  /** The API's URL, as the start-up line names it. */
  api: string;
  /** Everything the process wrote so far, from its start. */
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts `vectra serve` with both listeners on port 0 (unless `env` names ports) and resolves
 * with the URLs its start-up line reports, so no test guesses a free port in advance.
 */
export async function startServe(
  args: string[] = [],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ServingCli> {
  const child = startCli(['serve', ...args], {
    cwd: options.cwd,
    env: { System__Server__Http__Port: '0', System__Proxy__Port: '0', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [, proxy, api] = await waitForOutput(
    child,
    /proxy on (http:\/\/\S+) and API on (http:\/\/\S+)/,
  );
  return {
    child,
    proxy,
    api,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}
