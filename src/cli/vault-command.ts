/** `vectra vault create|list|show|update|delete|token`. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SESSION_TTL } from '../identity/types';
import type { UnmatchedHostPolicy, Vault } from '../vault/types';
import type { AdminCli, ConnectionFlags } from './admin-cli';
import { table } from './output';
import { commandGroup } from './command-group';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A session lifetime in seconds: `300` (seconds), `90s`, `5m`, `1h`, `7d`; within the gateway's
 * bounds (5 minutes to 7 days).
 */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) {
    throw new Error(`"${text}" is not a duration; use seconds (300) or 5m, 1h, 7d`);
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] || 's'];
  if (seconds < SESSION_TTL.min || seconds > SESSION_TTL.max) {
    throw new Error(
      `${text} is outside the allowed ${SESSION_TTL.min / 60} minutes to ${SESSION_TTL.max / 86400} days`,
    );
  }
  return seconds;
}

function ttlOption(text: string): number {
  try {
    return parseTtl(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const unmatchedOption = () =>
  new Option(
    '--unmatched <policy>',
    'requests to hosts that match no service: passthrough or deny',
  ).choices(['passthrough', 'deny']);

function vaultTable(vaults: Vault[]): string {
  return table(
    ['NAME', 'UNMATCHED HOSTS', 'CREATED', 'UPDATED'],
    vaults.map((v) => [v.name, v.unmatchedHosts, v.createdAt, v.updatedAt]),
  );
}

interface UnmatchedFlags extends ConnectionFlags {
  unmatched?: UnmatchedHostPolicy;
}

interface TokenFlags extends ConnectionFlags {
  vault: string;
  ttl?: number;
  agent?: string;
}

export function registerVaultCommands(program: Command, cli: AdminCli): void {
  const vault = commandGroup(program, 'vault');

  cli
    .connection(vault.command('create').argument('<name>', 'vault name'))
    .description('Create a vault')
    .addOption(unmatchedOption())
    .action(
      cli.action(async (name: string, flags: UnmatchedFlags) => {
        const answer = await cli
          .client(flags)
          .createVault({ name, unmatchedHosts: flags.unmatched });
        cli.print(
          flags,
          answer,
          () =>
            `created vault ${answer.vault.name} (unmatched hosts: ${answer.vault.unmatchedHosts})`,
        );
      }),
    );

  cli.query(
    cli.connection(vault.command('list')),
    'List vaults',
    (client) => client.listVaults(),
    (answer) => vaultTable(answer.vaults),
  );

  cli.query(
    cli.connection(vault.command('show').argument('<name>', 'vault name')),
    'Show a vault',
    (client, _flags, [name]) => client.getVault(name),
    (answer) => vaultTable([answer.vault]),
  );

  cli
    .connection(vault.command('update').argument('<name>', 'vault name'))
    .description("Change a vault's setting for hosts that match no service")
    .addOption(unmatchedOption().makeOptionMandatory())
    .action(
      cli.action(async (name: string, flags: UnmatchedFlags) => {
        const answer = await cli
          .client(flags)
          .updateVault(name, { unmatchedHosts: flags.unmatched! });
        cli.print(
          flags,
          answer,
          () =>
            `updated vault ${answer.vault.name} (unmatched hosts: ${answer.vault.unmatchedHosts})`,
        );
      }),
    );

  cli.query(
    cli.connection(vault.command('delete').argument('<name>', 'vault name')),
    'Delete a vault with its credentials, services, grants and sessions',
    async (client, _flags, [name]) => {
      await client.deleteVault(name);
      return { deleted: { vault: name } };
    },
    (_answer, _flags, [name]) => `deleted vault ${name}`,
  );

  cli
    .connection(vault.command('token'))
    .description(
      'Mint a session token for a vault; prints only the token, e.g. TOKEN=$(vectra vault token)',
    )
    .option('--vault <name>', 'vault the session may use', 'default')
    .option('--ttl <duration>', 'lifetime: seconds, or 5m, 1h, 7d (default 24h)', ttlOption)
    .option('--agent <name>', 'agent the session is for')
    .action(
      cli.action(async (flags: TokenFlags) => {
        const answer = await cli
          .client(flags)
          .mintSession(flags.vault, { ttlSeconds: flags.ttl, agent: flags.agent });
        if (!flags.json)
          cli.ctx.io.err(`session for vault ${flags.vault} expires at ${answer.session.expiresAt}`);
        cli.print(flags, answer, () => answer.token);
      }),
    );
}
