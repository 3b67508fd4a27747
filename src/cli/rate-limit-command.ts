/**
 * `vectra rate-limit list|set|delete`: rate-limit overrides through the admin API
 * (`/v1/rate-limits`). `set` and `delete` change overrides stored by the gateway, which every
 * replica applies; overrides from the configuration (`System.RateLimit.*Overrides`) are listed
 * with source `config` and change only with the configuration.
 */
import { Argument, type Command } from 'commander';
import {
  OVERRIDE_TIERS,
  perMinuteProblem,
  type OverrideTier,
} from '../config/rate-limit-override-list';
import type { AdminCli, ConnectionFlags } from './admin-cli';
import { UsageError } from '../client/api-client';
import { table } from './output';
import { commandGroup } from './command-group';

const tierArgument = () =>
  new Argument('<tier>', 'agents, vaults or services').choices(OVERRIDE_TIERS);
const nameArgument = (command: Command) =>
  command.argument('<name>', 'agent or vault name; a service is <service> or <vault>/<service>');

/** `600` → 600; anything but a whole number from 1 up is a usage error. */
export function parsePerMinute(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  const problem = perMinuteProblem(value, '<perMinute>');
  if (problem) throw new UsageError(`${problem}, not "${text}"`);
  return value;
}

export function registerRateLimitCommands(program: Command, cli: AdminCli): void {
  const rateLimit = commandGroup(program, 'rate-limit');

  cli.query(
    cli.connection(rateLimit.command('list')),
    'Show the default rate limit and every override in effect, with its source',
    (client) => client.listRateLimits(),
    (answer) => {
      const d = answer.default;
      const head = `default: ${d.requestsPerMinute} per minute + burst ${d.burst} (${d.windowSeconds} s window)`;
      if (answer.overrides.length === 0) return `${head}\nno overrides`;
      const rows = answer.overrides.map((o) => [
        o.tier,
        o.name,
        String(o.requestsPerMinute),
        o.source +
          (o.configuredRequestsPerMinute === undefined
            ? ''
            : ` (config: ${o.configuredRequestsPerMinute})`),
        o.updatedAt ?? '',
      ]);
      return `${head}\n${table(['TIER', 'NAME', 'PER MINUTE', 'SOURCE', 'UPDATED'], rows)}`;
    },
  );

  cli
    .connection(
      nameArgument(rateLimit.command('set').addArgument(tierArgument())).argument(
        '<perMinute>',
        'requests per minute (a whole number, at least 1)',
      ),
    )
    .description('Set an override; it wins over a configured one for the same name')
    .addHelpText(
      'after',
      '\nExamples:\n  vectra rate-limit set agents ci-bot 600\n  vectra rate-limit set services prod/github 30',
    )
    .action(
      cli.action(
        async (tier: OverrideTier, name: string, perMinute: string, flags: ConnectionFlags) => {
          const answer = await cli
            .client(flags)
            .setRateLimit(tier, name, parsePerMinute(perMinute));
          const o = answer.override;
          cli.print(
            flags,
            answer,
            () => `${o.tier} ${o.name}: ${o.requestsPerMinute} requests per minute`,
          );
        },
      ),
    );

  cli
    .connection(nameArgument(rateLimit.command('delete').addArgument(tierArgument())))
    .description('Remove an override set with `set` (a configured value applies again)')
    .action(
      cli.action(async (tier: OverrideTier, name: string, flags: ConnectionFlags) => {
        await cli.client(flags).deleteRateLimit(tier, name);
        cli.print(
          flags,
          { deleted: { tier, name } },
          () => `removed the ${tier} override of ${name}`,
        );
      }),
    );
}
