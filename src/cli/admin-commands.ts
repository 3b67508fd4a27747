/**
 * Registers the commands that drive the admin API: `auth`, `vault`, `credential`, `service`,
 * `agent`, `admin-token`, `rate-limit` and `approvals`.
 */
import type { Command } from 'commander';
import { createAdminCli, type AdminCommandOptions } from './admin-cli';
import { registerAdminTokenCommands } from './admin-token-command';
import { registerAgentCommands } from './agent-command';
import { registerApprovalCommands } from './approvals-command';
import type { WatchOptions } from './approvals-watch';
import { registerAuthCommands } from './auth-command';
import type { CommandContext } from './command-context';
import { registerCredentialCommands } from './credential-command';
import { registerRateLimitCommands } from './rate-limit-command';
import { registerServiceCommands } from './service-command';
import { registerVaultCommands } from './vault-command';

export function registerAdminCommands(
  program: Command,
  ctx: CommandContext,
  options: AdminCommandOptions & WatchOptions = {},
): void {
  const cli = createAdminCli(ctx, options);
  registerAuthCommands(program, cli);
  registerVaultCommands(program, cli);
  registerCredentialCommands(program, cli);
  registerServiceCommands(program, cli);
  registerAgentCommands(program, cli);
  registerAdminTokenCommands(program, cli);
  registerRateLimitCommands(program, cli);
  registerApprovalCommands(program, cli, options);
}
