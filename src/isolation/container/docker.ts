/**
 * The Docker engine through its CLI (`docker` on PATH): what container isolation asks of it,
 * each failure turned into a RunError the user can act on — no docker, engine not running,
 * engine too old.
 */
import { spawn } from 'node:child_process';
import { EXIT } from '../../errors';
import { RunError } from '../run-mode';

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Docker {
  /** Runs `docker args…` and collects its output (never rejects for a non-zero exit). */
  run(
    args: readonly string[],
    options?: { input?: string; onStderr?: (text: string) => void },
  ): Promise<DockerResult>;
  /** The program that is run (for messages). */
  readonly binary: string;
}

export function createDocker(binary = 'docker', env: NodeJS.ProcessEnv = process.env): Docker {
  return {
    binary,
    run(args, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
        child.stderr.setEncoding('utf8').on('data', (text: string) => {
          stderr += text;
          options.onStderr?.(text);
        });
        child.once('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') {
            reject(
              new RunError(
                'docker not found in PATH',
                EXIT.CONFIG_OR_USAGE,
                'install Docker Engine (Linux) or Docker Desktop (macOS), or use --isolation host',
              ),
            );
          } else reject(err);
        });
        child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.end(options.input ?? '');
      });
    },
  };
}

/** The oldest engine tested here with the network labels and filters used. */
export const MIN_ENGINE_VERSION = [20, 10] as const;

/** Checks that the engine runs and is recent enough; returns its version. */
export async function checkEngine(docker: Docker): Promise<string> {
  const answer = await docker.run(['version', '--format', '{{.Server.Version}}']);
  const version = answer.stdout.trim();
  if (answer.code !== 0 || !version) {
    const detail = lastLines(answer.stderr, 2) || 'no answer';
    throw new RunError(
      `the Docker engine is not running or not reachable (${detail})`,
      EXIT.FAILURE,
      'start Docker (e.g. `sudo systemctl start docker`), or use --isolation host',
    );
  }
  const [major, minor] = version.split(/[.+-]/).map((part) => Number.parseInt(part, 10));
  const [needMajor, needMinor] = MIN_ENGINE_VERSION;
  if (!(major > needMajor || (major === needMajor && minor >= needMinor))) {
    throw new RunError(
      `the Docker engine ${version} is too old for container isolation (it needs ${needMajor}.${needMinor} or newer, for the network filters and labels used here)`,
      EXIT.FAILURE,
      'upgrade Docker',
    );
  }
  return version;
}

/** The last `count` non-empty lines of `text`, joined with "; ". */
export function lastLines(text: string, count: number): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join('; ');
}
