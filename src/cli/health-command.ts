/** `vectra health`: asks a running gateway for /health; the container images' health check. */
import type { Command } from 'commander';
import { localHost } from '../config/container';
import { loadConfig } from '../config/loader';
import { EXIT, GatewayError } from '../errors';
import type { HealthReport } from '../observability/health';
import type { CommandContext } from './command-context';

/** The configured API listener as seen from this machine (loopback when it binds them all). */
function defaultAddress(env: NodeJS.ProcessEnv): string {
  if (env.VECTRA_ADDR) return env.VECTRA_ADDR;
  try {
    const server = loadConfig({ env }).config.System.Server;
    return `http://${localHost(server.Host)}:${server.Http.Port}`;
  } catch {
    return 'http://127.0.0.1:7080';
  }
}

export function registerHealthCommand(program: Command, ctx: CommandContext): void {
  program
    .command('health')
    .description('Check a running gateway; exit 0 when Healthy or Degraded, 1 otherwise')
    .option(
      '--addr <url>',
      "gateway address (default: $VECTRA_ADDR, else this machine's configured HTTP port)",
    )
    .option('--timeout <seconds>', 'how long to wait for an answer', '5')
    .option('--json', 'print the whole health report')
    .action(async (opts: { addr?: string; timeout: string; json?: boolean }) => {
      const base = opts.addr ?? defaultAddress(ctx.env);
      const url = new URL('/health', base);
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(Number(opts.timeout) * 1000) });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        throw new GatewayError(
          'VEC_CLI_UNREACHABLE',
          `no answer from ${url.origin} (${cause}); is \`vectra serve\` running there?`,
        );
      }
      const report = (await res.json().catch(() => undefined)) as HealthReport | undefined;
      if (!report?.status) {
        throw new GatewayError(
          'VEC_CLI_UNREACHABLE',
          `${url.origin}/health answered ${res.status} without a health report`,
        );
      }
      if (opts.json) {
        ctx.io.out(JSON.stringify(report, null, 2));
      } else {
        ctx.io.out(`${report.status} (${url.origin}, ${report.healthCheckDuration})`);
        for (const [name, check] of Object.entries(report.checks ?? {})) {
          ctx.io.out(`  ${name}: ${check.status} - ${check.description}`);
        }
      }
      ctx.exitCode = report.status === 'Unhealthy' ? EXIT.FAILURE : EXIT.OK;
    });
}
