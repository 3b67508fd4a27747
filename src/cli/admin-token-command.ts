/** `vectra admin-token create|list|revoke`: tokens for the admin API, CLI and UI, with a role. */
import { Option, type Command } from 'commander';
import { ADMIN_ROLES, type AdminRole } from '../identity/types';
import type { AdminCli, TokenFlags } from './admin-cli';
import { table } from './output';
import { commandGroup } from './command-group';

interface CreateFlags extends TokenFlags {
  role: AdminRole;
}

export function registerAdminTokenCommands(program: Command, cli: AdminCli): void {
  const adminToken = commandGroup(program, 'admin-token');

  cli
    .connection(adminToken.command('create').argument('<name>', 'what the token is for'))
    .description('Create an admin token and print it (once)')
    .addOption(
      new Option('--role <role>', 'what the token may do')
        .choices(ADMIN_ROLES)
        .makeOptionMandatory(),
    )
    .addOption(cli.tokenOnlyOption())
    .action(
      cli.action(async (name: string, flags: CreateFlags) => {
        const answer = await cli.client(flags).createAdminToken({ name, role: flags.role });
        cli.printMinted(
          flags,
          answer,
          `created ${answer.adminToken.role} token ${answer.adminToken.name} (id ${answer.adminToken.id})`,
        );
      }),
    );

  cli.query(
    cli.connection(adminToken.command('list')),
    'List admin tokens (never the tokens themselves)',
    (client) => client.listAdminTokens(),
    (answer) =>
      table(
        ['ID', 'NAME', 'ROLE', 'CREATED'],
        answer.adminTokens.map((t) => [t.id, t.name, t.role, t.createdAt]),
      ),
  );

  cli.query(
    cli.connection(
      adminToken.command('revoke').argument('<id>', 'token id (see `admin-token list`)'),
    ),
    'Revoke an admin token; it stops working at once',
    async (client, _flags, [id]) => {
      await client.revokeAdminToken(id);
      return { revoked: { adminToken: id } };
    },
    (_answer, _flags, [id]) => `revoked admin token ${id}`,
  );
}
