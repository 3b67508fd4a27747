/** curl as a real client: its exit code and output, never a rejection. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `curl -sS --max-time 20 ...args`; a non-zero exit is returned in `code`. */
export async function curl(args: string[]): Promise<CurlResult> {
  try {
    const { stdout, stderr } = await run('curl', ['-sS', '--max-time', '20', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CurlResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
