/**
 * mitmproxy as the comparison point: `mitmdump` in regular (forward) proxy mode on a free
 * loopback port, quiet, with upstream TLS verified against the benchmark upstream's CA
 * (never `ssl_insecure`). Its own CA is generated in a throwaway confdir and trusted by the
 * load generator. Absent (Debian package `mitmproxy` not installed): the runs are skipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export interface Mitmproxy {
  port: number;
  caPem: string;
  version: string;
  close(): Promise<void>;
}

/** `mitmdump --version`'s first line, or undefined when it is not installed. */
export function mitmproxyVersion(): string | undefined {
  const probe = spawnSync('mitmdump', ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error || probe.status !== 0) return undefined;
  return probe.stdout.split('\n')[0]?.trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startMitmproxy(options: {
  confdir: string;
  upstreamCaFile: string;
  version: string;
}): Promise<Mitmproxy> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'mitmdump',
    [
      '--quiet',
      '--listen-host',
      '127.0.0.1',
      '--listen-port',
      String(port),
      '--set',
      `confdir=${options.confdir}`,
      '--set',
      'ssl_insecure=false',
      '--set',
      `ssl_verify_upstream_trusted_ca=${options.upstreamCaFile}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const caFile = join(options.confdir, 'mitmproxy-ca-cert.pem');
  const deadline = Date.now() + 30_000;
  while (!(existsSync(caFile) && (await accepts(port)))) {
    if (child.exitCode !== null) throw new Error(`mitmdump exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`mitmdump did not listen within 30 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    caPem: readFileSync(caFile, 'utf8'),
    version: options.version,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
