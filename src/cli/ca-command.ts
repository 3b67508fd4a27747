/**
 * `vectra ca export [-o FILE] [--addr URL]`: fetches the gateway's CA certificate from
 * `GET /v1/ca.pem` (public, no token) so that clients can be told to trust it. The answer is
 * checked to be one X.509 certificate before anything is written.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CommanderError } from 'commander';
import { EXIT, GatewayError } from '../errors';
import { ApiError, UsageError, resolveAddress, unreachable } from '../client/api-client';
import { readLogin } from '../client/login-store';
import type { RegisterCommand } from './command-context';
import { commandGroup } from './command-group';

export interface CaCommandOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export const registerCaCommand: RegisterCommand<CaCommandOptions> = (
  program,
  ctx,
  options = {},
) => {
  const ca = commandGroup(program, 'ca');
  ca.command('export')
    .description('Print the CA certificate (PEM), or write it to a file, for clients to trust')
    .option('-o, --output <file>', 'write the certificate to FILE (mode 0644) instead of stdout')
    .option('--addr <url>', 'gateway address (default: $VECTRA_ADDR, else the saved login)')
    .action(async (flags: { output?: string; addr?: string }) => {
      let addr: string;
      try {
        addr = resolveAddress(flags.addr, ctx.env, readLogin(ctx.env));
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        ctx.io.err(`vectra: ${err.message}`);
        throw new CommanderError(EXIT.CONFIG_OR_USAGE, 'vectra.usage', err.message);
      }
      const pem = await fetchCaPem(addr, options);
      const cert = new X509Certificate(pem);
      if (flags.output === undefined) {
        ctx.io.out(pem);
        return;
      }
      const file = resolve(flags.output);
      await writeFile(file, pem);
      await chmod(file, 0o644); // a certificate is public; the umask must not hide it from clients
      ctx.io.err(
        `wrote the CA certificate to ${file} (${cert.subject.replace(/\n/g, ', ')}, SHA-256 ${cert.fingerprint256})`,
      );
    });
};

async function fetchCaPem(addr: string, options: CaCommandOptions): Promise<string> {
  const url = `${addr}/v1/ca.pem`;
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, {
      headers: { accept: 'application/x-pem-file, application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw unreachable(addr, err);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) {
    const body = parseErrorBody(text);
    if (body) throw new ApiError(res.status, body);
    throw new GatewayError(
      'VEC_CLI_UNREACHABLE',
      `${url} answered HTTP ${res.status}; is ${addr} a Vectra gateway?`,
      { statusCode: res.status },
    );
  }
  const pem = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/)?.[0];
  if (!pem || !isCertificate(pem)) {
    throw new GatewayError(
      'VEC_CLI_UNREACHABLE',
      `${url} answered without a PEM certificate; is ${addr} a Vectra gateway?`,
    );
  }
  return `${pem}\n`;
}

function isCertificate(pem: string): boolean {
  try {
    return new X509Certificate(pem).ca;
  } catch {
    return false;
  }
}

function parseErrorBody(text: string): ConstructorParameters<typeof ApiError>[1] | undefined {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') {
      return body as ConstructorParameters<typeof ApiError>[1];
    }
  } catch {
    // not JSON: reported as "not a Vectra gateway" by the caller
  }
  return undefined;
}
