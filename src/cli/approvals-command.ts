/**
 * `vectra approvals list|show|approve|deny|watch|standing`: the requests held for a human
 * (docs/approvals.md) through the admin API (`/v1/approvals`). Owners and approvers decide;
 * auditors may list, show and watch. `watch` lives in approvals-watch.ts.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { APPROVAL_SCOPES, APPROVAL_STATUSES, type ApprovalScope } from '../approvals/types';
import { UsageError, type ApproveBody } from '../client/api-client';
import type { AdminCli, ConnectionFlags } from './admin-cli';
import { approvalDetails, approvalTable, hostPort, standingTable } from './approval-text';
import { registerWatchCommand, type WatchOptions } from './approvals-watch';
import { commandGroup } from './command-group';

interface ListFlags extends ConnectionFlags {
  status?: (typeof APPROVAL_STATUSES)[number];
  vault?: string;
  agent?: string;
  limit?: number;
}

interface ApproveFlags extends ConnectionFlags {
  scope: ApprovalScope;
  minutes?: number;
  pathPattern?: string;
  comment?: string;
}

/** The most minutes a `session` approval may last (the API's limit: one week). */
const MAX_MINUTES = 10_080;

function wholeNumber(max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
      throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
    }
    return Number(text);
  };
}

/** The approve body from the flags; a combination the API would refuse is a usage error. */
export function approveBody(flags: Omit<ApproveFlags, keyof ConnectionFlags>): ApproveBody {
  const body: ApproveBody = { scope: flags.scope };
  if (flags.scope === 'session') {
    if (flags.minutes === undefined) {
      throw new UsageError('--scope session needs --minutes N (how long it lasts)');
    }
    body.minutes = flags.minutes;
  } else if (flags.minutes !== undefined) {
    throw new UsageError('--minutes is only for --scope session');
  }
  if (flags.pathPattern !== undefined) {
    if (flags.scope === 'once') {
      throw new UsageError('--path-pattern is only for --scope session or always');
    }
    body.pathPattern = flags.pathPattern;
  }
  if (flags.comment !== undefined) body.comment = flags.comment;
  return body;
}

export function registerApprovalCommands(
  program: Command,
  cli: AdminCli,
  options: WatchOptions = {},
): void {
  const approvals = commandGroup(program, 'approvals');

  cli
    .query(
      cli.connection(approvals.command('list')),
      'List approvals, newest first',
      (client, flags: ListFlags) =>
        client.listApprovals({
          status: flags.status,
          vault: flags.vault,
          agent: flags.agent,
          limit: flags.limit,
        }),
      (answer) =>
        answer.approvals.length === 0 ? 'no approvals' : approvalTable(answer.approvals),
    )
    .addOption(new Option('--status <status>', 'only this status').choices(APPROVAL_STATUSES))
    .option('--vault <name>', 'only this vault')
    .option('--agent <name>', 'only this agent')
    .option('--limit <n>', 'at most this many (default 100, at most 500)', wholeNumber(500));

  cli.query(
    cli.connection(approvals.command('show').argument('<id>', 'the approval id (apr_…)')),
    'Show one approval: the request (redacted), why it needs a human, and the decision',
    (client, _flags, [id]) => client.getApproval(id),
    (answer) => approvalDetails(answer.approval),
  );

  cli
    .connection(approvals.command('approve').argument('<id>', 'the approval id (apr_…)'))
    .description('Approve a held request')
    .addOption(
      new Option(
        '--scope <scope>',
        'once: this exact request, one time; session: the same agent, vault, method, host and path pattern for --minutes; always: the same, until revoked',
      )
        .choices(APPROVAL_SCOPES)
        .default('once'),
    )
    .option('--minutes <n>', `for --scope session: 1 to ${MAX_MINUTES}`, wholeNumber(MAX_MINUTES))
    .option(
      '--path-pattern <glob>',
      'for session and always: a glob the path must match (default: the request path)',
    )
    .option('--comment <text>', 'a note recorded with the decision')
    .addHelpText(
      'after',
      '\nExamples:\n  vectra approvals approve apr_0123\n  vectra approvals approve apr_0123 --scope session --minutes 30 --path-pattern "/repos/*/issues"',
    )
    .action(
      cli.action(async (id: string, flags: ApproveFlags) => {
        const { approval } = await cli.client(flags).approve(id, approveBody(flags));
        cli.print(flags, { approval }, () => {
          const scope =
            approval.scope === 'session'
              ? `session, until ${approval.standingUntil}`
              : (approval.scope ?? 'once');
          const path = approval.pathPattern ? `, path ${approval.pathPattern}` : '';
          return `approved ${approval.id} (${scope}${path}): ${approval.method} ${approval.url}`;
        });
      }),
    );

  cli
    .connection(approvals.command('deny').argument('<id>', 'the approval id (apr_…)'))
    .description('Deny a held request; the agent gets VEC_APPROVAL_DENIED with the reason')
    .requiredOption('--reason <text>', 'why (shown to the agent)')
    .action(
      cli.action(async (id: string, flags: ConnectionFlags & { reason: string }) => {
        if (!flags.reason.trim()) throw new UsageError('--reason must not be empty');
        const { approval } = await cli.client(flags).deny(id, flags.reason);
        cli.print(
          flags,
          { approval },
          () => `denied ${approval.id}: ${approval.method} ${approval.url} (${approval.comment})`,
        );
      }),
    );

  registerWatchCommand(approvals, cli, options);

  const standing = approvals
    .command('standing')
    .description('Standing approvals (scope session or always) and revoking them');
  cli
    .query(
      cli.connection(standing.command('list', { isDefault: true })),
      'List the standing approvals in force (the default of `approvals standing`)',
      (client, flags: ConnectionFlags & { vault?: string; agent?: string }) =>
        client.listStandingApprovals({ vault: flags.vault, agent: flags.agent }),
      (answer) =>
        answer.standing.length === 0 ? 'no standing approvals' : standingTable(answer.standing),
    )
    .option('--vault <name>', 'only this vault')
    .option('--agent <name>', 'only this agent');
  cli.query(
    cli.connection(standing.command('revoke').argument('<id>', 'the approval id (apr_…)')),
    'Revoke a standing approval: requests it covered need a human again',
    (client, _flags, [id]) => client.revokeStandingApproval(id),
    (answer) => {
      const a = answer.approval;
      return `revoked ${a.id}: ${a.method} ${hostPort(a)}${a.pathPattern ?? a.path} needs a human again`;
    },
  );
}
