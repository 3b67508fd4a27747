/**
 * `vectra credential set|list|delete`. A value is never taken from the command line — other
 * users can read a process's arguments — only from stdin or VECTRA_CREDENTIAL_VALUE, and it is
 * never printed: the API does not return it and nothing here echoes it.
 */
import type { Command } from 'commander';
import type { AdminCli, ConnectionFlags } from './admin-cli';
import { UsageError } from '../client/api-client';
import { table } from './output';
import { commandGroup } from './command-group';

interface VaultFlags extends ConnectionFlags {
  vault: string;
}

interface SetFlags extends VaultFlags {
  valueStdin?: boolean;
}

const SET_HELP = `
The value is never accepted as a command-line argument: other users on this machine can read
a process's arguments (ps, /proc). Give it on stdin or in the environment instead:
  vectra credential set OPENAI_KEY --value-stdin < key.txt
  printf %s "$OPENAI_KEY" | vectra credential set OPENAI_KEY --value-stdin
  VECTRA_CREDENTIAL_VALUE=... vectra credential set OPENAI_KEY
The value is write-only: no command and no API call shows it again.`;

/** The value from stdin (one trailing newline dropped) or the environment. */
async function credentialValue(cli: AdminCli, flags: SetFlags): Promise<string> {
  let value: string;
  if (flags.valueStdin) {
    value = (await cli.readStdin('credential value')).replace(/\r?\n$/, '');
  } else {
    value = cli.ctx.env.VECTRA_CREDENTIAL_VALUE ?? '';
    if (!value)
      throw new UsageError(
        'no value: pipe it with --value-stdin, or set VECTRA_CREDENTIAL_VALUE (never on the command line)',
      );
  }
  if (!value) throw new UsageError('the credential value on stdin is empty');
  if (/[\r\n]/.test(value)) {
    throw new UsageError(
      'the credential value has more than one line; values go into HTTP headers and must be one line',
    );
  }
  return value;
}

export function registerCredentialCommands(program: Command, cli: AdminCli): void {
  const credential = commandGroup(program, 'credential');
  const vaultOption = '--vault <name>';
  const vaultHelp = 'vault holding the credential';

  cli
    .connection(credential.command('set').argument('<key>', 'credential key, e.g. OPENAI_KEY'))
    .description('Set a credential; the value comes from stdin or $VECTRA_CREDENTIAL_VALUE')
    .option(vaultOption, vaultHelp, 'default')
    .option('--value-stdin', 'read the value from stdin (to EOF; one trailing newline dropped)')
    .addHelpText('after', SET_HELP)
    .action(
      cli.action(async (key: string, flags: SetFlags) => {
        const value = await credentialValue(cli, flags);
        const answer = await cli.client(flags).setCredential(flags.vault, key, value);
        cli.print(
          flags,
          answer,
          () => `set credential ${answer.credential.key} in vault ${flags.vault}`,
        );
      }),
    );

  cli.query(
    cli.connection(credential.command('list')).option(vaultOption, vaultHelp, 'default'),
    "List a vault's credential keys (never values)",
    (client, flags: VaultFlags) => client.listCredentials(flags.vault),
    (answer) =>
      table(
        ['KEY', 'CREATED', 'UPDATED'],
        answer.credentials.map((c) => [c.key, c.createdAt, c.updatedAt]),
      ),
  );

  cli.query(
    cli
      .connection(credential.command('delete').argument('<key>', 'credential key'))
      .option(vaultOption, vaultHelp, 'default'),
    'Delete a credential',
    async (client, flags: VaultFlags, [key]) => {
      await client.deleteCredential(flags.vault, key);
      return { deleted: { vault: flags.vault, credential: key } };
    },
    (_answer, flags, [key]) => `deleted credential ${key} from vault ${flags.vault}`,
  );
}
