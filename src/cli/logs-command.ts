/**
 * `vectra logs [--vault V] [--limit N] [--follow] [--json] [--addr URL]`: a vault's audit log,
 * oldest of the page first, as a table or as JSON lines. Rows of approval events (who asked,
 * who decided) carry the event and the approval's id in the last column. `--follow` then streams new rows
 * (server-sent events from `/v1/vaults/:vault/logs/stream`) until Ctrl-C, which exits 0.
 */
import { InvalidArgumentError } from 'commander';
import { GatewayError } from '../errors';
import type { AuditRow } from '../audit/audit-log';
import { createAdminCli } from './admin-cli';
import { resolveAddress, resolveToken } from '../client/api-client';
import { adminGet, readEventStream } from '../client/event-stream';
import { readLogin } from '../client/login-store';
import type { CommandContext, RegisterCommand } from './command-context';
import { abortOnInterrupt, type OnInterrupt } from './interrupt';

export interface LogsCommandOptions {
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Ctrl-C; default SIGINT/SIGTERM. */
  onInterrupt?: OnInterrupt;
}

interface LogsFlags {
  vault: string;
  limit?: number;
  follow?: boolean;
  json?: boolean;
  addr?: string;
}

const HEADERS = [
  'TIME',
  'AGENT',
  'METHOD',
  'HOST',
  'PATH',
  'SERVICE',
  'DECISION',
  'STATUS',
  'MS',
  'CODE',
];
/** The last column, empty for a proxied request: `approval.created apr_…` for an approval's. */
const ALL_HEADERS = [...HEADERS, 'EVENT'];
/** Column widths a followed table starts from, so streamed rows line up reasonably. */
const MIN_WIDTHS = [24, 12, 6, 24, 24, 10, 8, 6, 5, 20];

function positiveInteger(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1000) {
    throw new InvalidArgumentError('must be a whole number from 1 to 1000');
  }
  return Number(text);
}

export const registerLogsCommand: RegisterCommand<LogsCommandOptions> = (
  program,
  ctx,
  options = {},
) => {
  const cli = createAdminCli(ctx, { fetch: options.fetch });
  cli
    .connection(program.command('logs'))
    .description("Show a vault's audit log (metadata of proxied requests); --follow streams it")
    .option('--vault <name>', 'vault whose log to show', 'default')
    .option('--limit <n>', 'rows to show first (default 100, at most 1000)', positiveInteger)
    .option('-f, --follow', 'keep streaming new rows until Ctrl-C')
    .action(cli.action((flags: LogsFlags) => showLogs(ctx, flags, options)));
};

async function showLogs(
  ctx: CommandContext,
  flags: LogsFlags,
  options: LogsCommandOptions,
): Promise<void> {
  const login = readLogin(ctx.env);
  const addr = resolveAddress(flags.addr, ctx.env, login);
  const http = logsHttp(addr, resolveToken(addr, ctx.env, login), options.fetch ?? fetch);
  const vaultPath = `/v1/vaults/${encodeURIComponent(flags.vault)}/logs`;
  const query = flags.limit === undefined ? '' : `?limit=${flags.limit}`;
  const page = (await http.json(`${vaultPath}${query}`)) as { logs: AuditRow[] };
  const rows = page.logs.slice().reverse();
  const printer = rowPrinter(ctx, flags, rows);
  if (!flags.follow) {
    if (rows.length === 0 && !flags.json) ctx.io.err(`no log rows for vault ${flags.vault}`);
    else printer.all(rows);
    return;
  }

  printer.all(rows);
  ctx.io.err(`following vault ${flags.vault}; press Ctrl-C to stop`);
  const shown = new Set(rows.map((row) => row.id));
  const after = Math.max(0, ...rows.map((row) => row.id));
  const interrupt = abortOnInterrupt(options.onInterrupt);
  try {
    await http.events(`${vaultPath}/stream?after=${after}`, interrupt.signal, (row) => {
      if (!shown.delete(row.id)) printer.one(row);
    });
  } catch (err) {
    if (interrupt.signal.aborted) return; // Ctrl-C: a normal end
    throw err;
  } finally {
    interrupt.release();
  }
  if (!interrupt.signal.aborted) {
    throw new GatewayError(
      'VEC_CLI_UNREACHABLE',
      `${addr} ended the log stream (is it shutting down?); run the command again to resume`,
    );
  }
}

/** Prints rows as JSON lines, or as a table whose widths are fixed by the first rows. */
function rowPrinter(ctx: CommandContext, flags: LogsFlags, first: AuditRow[]) {
  if (flags.json) {
    const one = (row: AuditRow) => ctx.io.out(JSON.stringify(row));
    return { one, all: (rows: AuditRow[]) => rows.forEach(one) };
  }
  const widths = HEADERS.map((header, i) =>
    Math.max(
      header.length,
      flags.follow ? MIN_WIDTHS[i] : 0,
      ...first.map((row) => cells(row)[i].length),
    ),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => (i < widths.length ? value.padEnd(widths[i]) : value))
      .join('  ')
      .trimEnd();
  let headed = false;
  const one = (row: AuditRow) => {
    if (!headed) ctx.io.out(line(ALL_HEADERS));
    headed = true;
    ctx.io.out(line(cells(row)));
  };
  return {
    one,
    all(rows: AuditRow[]) {
      if (!headed && (rows.length > 0 || flags.follow)) ctx.io.out(line(ALL_HEADERS));
      headed = true;
      rows.forEach(one);
    },
  };
}

function cells(row: AuditRow): string[] {
  const defaultPort = row.port === 443 || row.port === 80;
  return [
    row.at,
    row.agent ?? '-',
    row.method,
    defaultPort ? row.host : `${row.host}:${row.port}`,
    row.path,
    row.service ?? '-',
    row.decision,
    row.status === null ? '-' : String(row.status),
    row.event ? '-' : String(row.latencyMs),
    row.errorCode ?? '-',
    row.event ? `${row.event} ${row.approvalId ?? ''}`.trimEnd() : '',
  ];
}

/** The two calls `logs` makes: a JSON page and an event stream, with the CLI's error rules. */
function logsHttp(addr: string, token: string, doFetch: typeof fetch) {
  return {
    async json(path: string): Promise<unknown> {
      return (await adminGet(addr, token, path, 'application/json', doFetch)).json();
    },
    /** Calls `onRow` for each `log` event until the server ends the stream or `signal` aborts. */
    events: (path: string, signal: AbortSignal, onRow: (row: AuditRow) => void) =>
      readEventStream(addr, token, path, { fetch: doFetch, signal }, (event) => {
        if (event.name === 'log') onRow(JSON.parse(event.data) as AuditRow);
      }),
  };
}
