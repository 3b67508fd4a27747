/**
 * The command groups (`vectra agent …`) and what each holds, in one table: the top-level help
 * reads as an index, and each command file declares its group in one line.
 */
import type { Command } from 'commander';

export const COMMAND_GROUPS = {
  'admin-token': 'Manage admin tokens (owner: everything; approver: approvals; auditor: read only)',
  agent: 'Manage agents: each has a token and grants on vaults',
  approvals: 'Requests held for a human: list, show, approve, deny, watch as they arrive',
  auth: 'Log in to a gateway with an admin token (saved owner-only in ~/.vectra/)',
  ca: "Vectra's certificate authority, which signs the certificates of intercepted TLS",
  credential: "Manage a vault's credentials (values are write-only)",
  'master-password': 'Manage the master password that protects stored credentials',
  policy: 'Check policy files and dry-run requests against the policies',
  'rate-limit':
    'Rate-limit overrides per agent, vault or service (they replace the default rate; every replica applies them)',
  service: 'Manage services: which credential goes to which upstream host, and how',
  vault: 'Manage vaults: credentials and services live in a vault',
} as const;

export type CommandGroupName = keyof typeof COMMAND_GROUPS;

export function commandGroup(program: Command, name: CommandGroupName): Command {
  return program.command(name).description(COMMAND_GROUPS[name]);
}
