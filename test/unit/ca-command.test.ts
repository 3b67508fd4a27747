/**
 * `vectra ca export` in-process against a real HTTP server on port 0 standing in for the
 * gateway's `GET /v1/ca.pem`: stdout, `-o FILE` (0644 whatever the umask), the address taken
 * from VECTRA_ADDR, and each failure printed as one line with its exit code.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerCaCommand } from '../../src/cli/ca-command';
import type { CommandContext } from '../../src/cli/command-context';
import { reportError } from '../../src/cli/output';
import { loadCertificateAuthority } from '../../src/proxy/certificate-authority';
import type { SettingsRepository } from '../../src/storage/types';
import { createCipher } from '../../src/vault/crypto';
import { tempDir } from '../helpers/temp-dir';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let caPem: string;
let server: Server;
let handler: Handler;
let addr: string;
let dir: string;
const requests: IncomingMessage[] = [];

beforeAll(async () => {
  const rows = new Map<string, string>();
  const settings = {
    get: async (k: string) => rows.get(k),
    setIfAbsent: async (k: string, v: string) => (rows.set(k, v), v),
  } as unknown as SettingsRepository;
  const ca = await loadCertificateAuthority({
    proxy: { CaCertFile: '', CaKeyFile: '' },
    settings,
    cipher: createCipher(randomBytes(32)),
  });
  caPem = ca.caPem();
  server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((done) => server.close(done)));

beforeEach(() => {
  requests.length = 0;
  dir = tempDir('vectra-ca-cli-');
  handler = (req, res) => {
    if (req.url !== '/v1/ca.pem') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(caPem);
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Like `main()`: the exit code and what was printed. */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io = { out: (s: string) => stdout.push(s), err: (s: string) => stderr.push(s) };
  const ctx: CommandContext = {
    io,
    env: { VECTRA_CONFIG_HOME: dir, ...env },
    version: '0.0.0',
    exitCode: 0,
  };
  const program = new Command('vectra')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  registerCaCommand(program, ctx, { timeoutMs: 2000 });
  let code = 0;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode;
    else {
      reportError(io, err, false);
      code = 1;
    }
  }
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

describe('vectra ca export', () => {
  it('prints the CA certificate on stdout, asking without any token', async () => {
    const result = await run(['ca', 'export', '--addr', addr], { VECTRA_ADMIN_TOKEN: 'vec_adm_x' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(caPem);
    expect(requests).toHaveLength(1);
    expect(requests[0].headers.authorization).toBeUndefined();
  });

  it('-o FILE writes the certificate with mode 0644, even under umask 077', async () => {
    const file = join(dir, 'vectra-ca.pem');
    const previous = process.umask(0o077);
    try {
      const result = await run(['ca', 'export', '-o', file], { VECTRA_ADDR: `${addr}/` });
      expect(result).toMatchObject({ code: 0, stdout: '' });
      expect(result.stderr).toMatch(
        /wrote the CA certificate to .*vectra-ca\.pem \(CN=Vectra Local CA/,
      );
    } finally {
      process.umask(previous);
    }
    expect(readFileSync(file, 'utf8')).toBe(caPem);
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });

  it('without an address: one usage line, exit 2', async () => {
    const result = await run(['ca', 'export']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^vectra: no gateway address: pass --addr/);
  });

  it('a gateway error is printed with its code', async () => {
    handler = (_req, res) =>
      res.writeHead(503, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          error: 'Database unavailable',
          code: 'VEC_STORAGE_UNAVAILABLE',
          message: 'The database cannot be reached.',
          statusCode: 503,
        }),
      );
    const result = await run(['ca', 'export', '--addr', addr]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('vectra: The database cannot be reached. [VEC_STORAGE_UNAVAILABLE]');
  });

  it('an answer that is not a CA certificate writes nothing', async () => {
    handler = (_req, res) => res.writeHead(200).end('<html>hello</html>');
    const file = join(dir, 'out.pem');
    const result = await run(['ca', 'export', '--addr', addr, '-o', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/answered without a PEM certificate.*\[VEC_CLI_UNREACHABLE\]/);
    expect(() => statSync(file)).toThrow();
  });

  it('no answer at all is VEC_CLI_UNREACHABLE', async () => {
    const closed = createServer();
    await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
    const { port } = closed.address() as AddressInfo;
    await new Promise((done) => closed.close(done));
    const result = await run(['ca', 'export', '--addr', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no answer from http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});
