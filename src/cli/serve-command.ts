/** `vectra serve`: runs the gateway until SIGTERM/SIGINT, then shuts down gracefully. */
import type { Command } from 'commander';
import { containerWarnings } from '../config/container';
import { loadConfig } from '../config/loader';
import { EXIT } from '../errors';
import type { CommandContext } from './command-context';

export function registerServeCommand(program: Command, ctx: CommandContext): void {
  program
    .command('serve')
    .description('Run the gateway (API on System.Server.Http.Port, proxy on System.Proxy.Port)')
    .option(
      '--config <file>',
      'extra JSON configuration file, layered over config/appsettings*.json',
    )
    .option('--port <port>', 'HTTP port of the API (overrides System.Server.Http.Port)')
    .action(async (opts: { config?: string; port?: string }) => {
      const loaded = loadConfig({
        configFile: opts.config,
        env: ctx.env,
        flags: { 'System.Server.Http.Port': opts.port },
      });
      for (const warning of containerWarnings(loaded.config, ctx.env)) ctx.io.err(warning);
      // Listen for signals before anything can announce readiness: a supervisor (or a test)
      // may signal as soon as it reads the "API on" line.
      const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
        const onSignal = (sig: NodeJS.Signals) => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          // A second signal while draining stops at once.
          process.once(sig, () => process.exit(EXIT.FAILURE));
          resolve(sig);
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      // Loaded here, not at the top: every other command starts faster without the gateway's modules.
      const { startGateway } = await import('../gateway');
      const gateway = await startGateway(loaded.config, { version: ctx.version });
      // Every URL ends at a space or the line's end, so a reader can take `\S+` after "on".
      const { proxy, http, https } = gateway.urls;
      ctx.io.err(
        `vectra ${ctx.version}: proxy on ${proxy} and API on ${http}${https ? ` and ${https}` : ''}`,
      );
      const signal = await stopRequested;
      await gateway.close(`received ${signal}`);
      ctx.exitCode = EXIT.OK;
    });
}
