/**
 * `vectra agent create|list|show|rotate|delete|grant|revoke`. A token is shown once, at creation
 * or rotation: `--token-only` prints just the token, for `TOKEN=$(vectra agent create a --token-only)`.
 */
import type { Command } from 'commander';
import type { Agent } from '../identity/types';
import type { AdminCli, ConnectionFlags, TokenFlags } from './admin-cli';
import { table } from './output';
import { commandGroup } from './command-group';

interface CreateFlags extends TokenFlags {
  vault?: string[];
}

interface GrantFlags extends ConnectionFlags {
  vault: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function agentTable(agents: Agent[]): string {
  return table(
    ['NAME', 'VAULTS', 'CREATED', 'ROTATED'],
    agents.map((a) => [a.name, a.vaults.join(',') || '-', a.createdAt, a.rotatedAt ?? '-']),
  );
}

const vaultsOf = (agent: Agent) => agent.vaults.join(', ') || 'none';

export function registerAgentCommands(program: Command, cli: AdminCli): void {
  const agent = commandGroup(program, 'agent');

  cli
    .connection(agent.command('create').argument('<name>', 'agent name'))
    .description('Create an agent and print its token (once)')
    .option('--vault <name>', 'grant a vault (repeatable)', collect)
    .addOption(cli.tokenOnlyOption())
    .action(
      cli.action(async (name: string, flags: CreateFlags) => {
        const answer = await cli.client(flags).createAgent({ name, vaults: flags.vault });
        cli.printMinted(
          flags,
          answer,
          `created agent ${answer.agent.name} (vaults: ${vaultsOf(answer.agent)})`,
        );
      }),
    );

  cli.query(
    cli.connection(agent.command('list')),
    'List agents',
    (client) => client.listAgents(),
    (answer) => agentTable(answer.agents),
  );

  cli.query(
    cli.connection(agent.command('show').argument('<name>', 'agent name')),
    'Show an agent',
    (client, _flags, [name]) => client.getAgent(name),
    (answer) => agentTable([answer.agent]),
  );

  cli
    .connection(agent.command('rotate').argument('<name>', 'agent name'))
    .description("Replace an agent's token; the old one stops working at once")
    .addOption(cli.tokenOnlyOption())
    .action(
      cli.action(async (name: string, flags: TokenFlags) => {
        const answer = await cli.client(flags).rotateAgent(name);
        cli.printMinted(flags, answer, `rotated the token of agent ${answer.agent.name}`);
      }),
    );

  cli.query(
    cli.connection(agent.command('delete').argument('<name>', 'agent name')),
    'Delete an agent; its token stops working at once',
    async (client, _flags, [name]) => {
      await client.deleteAgent(name);
      return { deleted: { agent: name } };
    },
    (_answer, _flags, [name]) => `deleted agent ${name}`,
  );

  for (const [verb, grant] of [
    ['grant', true],
    ['revoke', false],
  ] as const) {
    cli
      .connection(agent.command(verb).argument('<name>', 'agent name'))
      .description(grant ? 'Grant an agent vaults' : "Revoke an agent's grant on vaults")
      .requiredOption('--vault <name>', 'vault (repeatable)', collect)
      .action(
        cli.action(async (name: string, flags: GrantFlags) => {
          const client = cli.client(flags);
          let answer: { agent: Agent } | undefined;
          for (const vault of flags.vault) {
            answer = grant
              ? await client.grantVault(name, vault)
              : await client.revokeVault(name, vault);
          }
          cli.print(
            flags,
            answer,
            () => `agent ${name} now has vaults: ${vaultsOf(answer!.agent)}`,
          );
        }),
      );
  }
}
