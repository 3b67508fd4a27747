/** `vectra auth login|logout|status`: the saved admin login. The token is never printed. */
import type { Command } from 'commander';
import { EXIT, isGatewayError } from '../errors';
import { TOKEN_PREFIX } from '../identity/types';
import type { AdminCli, ConnectionFlags } from './admin-cli';
import {
  createApiClient,
  NO_ADDRESS,
  resolveAddress,
  resolveToken,
  UsageError,
} from '../client/api-client';
import {
  loginFile,
  readLogin,
  removeLogin,
  saveLogin,
  type SavedLogin,
} from '../client/login-store';
import { commandGroup } from './command-group';

interface LoginFlags extends ConnectionFlags {
  tokenStdin?: boolean;
}

export function registerAuthCommands(program: Command, cli: AdminCli): void {
  const auth = commandGroup(program, 'auth');

  cli
    .connection(auth.command('login'))
    .description('Check an admin token against the gateway and save it with the address')
    .option('--token-stdin', 'read the admin token from the first line of stdin')
    .addHelpText(
      'after',
      '\nThe token comes from stdin with --token-stdin, else from $VECTRA_ADMIN_TOKEN; it is never\n' +
        'accepted as an argument, since other users can see command lines.\n' +
        'Example: vectra auth login --addr http://127.0.0.1:7080 --token-stdin < admin-token',
    )
    .action(cli.action((flags: LoginFlags) => login(cli, flags)));

  auth
    .command('logout')
    .description('Forget the saved login')
    .option('--json', 'machine-readable output')
    .action(
      cli.action(async (flags: ConnectionFlags) => {
        const saved = savedOrNothing(cli);
        const removed = removeLogin(cli.ctx.env);
        cli.print(flags, { loggedOut: removed, addr: saved?.addr ?? null }, () =>
          removed ? `logged out of ${saved?.addr ?? 'the gateway'}` : 'not logged in',
        );
      }),
    );

  cli
    .connection(auth.command('status'))
    .description('Show which gateway and token the CLI uses, and whether the gateway accepts it')
    .action(cli.action((flags: ConnectionFlags) => status(cli, flags)));
}

async function login(cli: AdminCli, flags: LoginFlags): Promise<void> {
  const { env } = cli.ctx;
  const addr = resolveAddress(flags.addr, env, savedOrNothing(cli));
  const token = flags.tokenStdin
    ? (await cli.readStdin('admin token')).split(/\r?\n/)[0].trim()
    : (env.VECTRA_ADMIN_TOKEN ?? '').trim();
  if (!token) {
    throw new UsageError(
      flags.tokenStdin
        ? 'no admin token on stdin'
        : 'no admin token: pipe it with --token-stdin, or set VECTRA_ADMIN_TOKEN',
    );
  }
  if (!token.startsWith(TOKEN_PREFIX.admin)) {
    throw new UsageError(`that is not an admin token (they start with ${TOKEN_PREFIX.admin})`);
  }
  const { vaults } = await createApiClient({ addr, token, fetch: cli.fetch }).listVaults();
  const file = saveLogin(env, { addr, token });
  cli.print(flags, { addr, loginFile: file, vaults: vaults.length }, () => `logged in to ${addr}`);
}

async function status(cli: AdminCli, flags: ConnectionFlags): Promise<void> {
  const { env } = cli.ctx;
  const saved = readLogin(env);
  const addrFrom = flags.addr ? '--addr' : env.VECTRA_ADDR ? '$VECTRA_ADDR' : 'saved login';
  const tokenFrom = env.VECTRA_ADMIN_TOKEN
    ? '$VECTRA_ADMIN_TOKEN'
    : `saved login ${loginFile(env)}`;
  if (!flags.addr && !env.VECTRA_ADDR && !saved) {
    cli.print(
      flags,
      { loggedIn: false, message: NO_ADDRESS },
      () => `not logged in: ${NO_ADDRESS}`,
    );
    cli.ctx.exitCode = EXIT.FAILURE;
    return;
  }
  const report: Record<string, unknown> = { loggedIn: saved !== undefined, addrFrom, tokenFrom };
  try {
    const addr = resolveAddress(flags.addr, env, saved);
    report.addr = addr;
    const token = resolveToken(addr, env, saved);
    const { vaults } = await createApiClient({ addr, token, fetch: cli.fetch }).listVaults();
    Object.assign(report, { ok: true, vaults: vaults.length });
  } catch (err) {
    if (!isGatewayError(err) && !(err instanceof UsageError)) throw err;
    const code = isGatewayError(err) ? err.code : undefined;
    Object.assign(report, { ok: false, error: { code, message: err.message } });
    cli.ctx.exitCode = EXIT.FAILURE;
  }
  cli.print(flags, report, () => {
    const error = report.error as { code?: string; message: string } | undefined;
    const verdict = error
      ? `failed: ${error.message}${error.code ? ` [${error.code}]` : ''}`
      : `ok, the token is accepted (${String(report.vaults)} vault${report.vaults === 1 ? '' : 's'})`;
    return [
      `gateway  ${String(report.addr ?? '(none)')} (from ${addrFrom})`,
      `token    from ${tokenFrom}`,
      `status   ${verdict}`,
    ].join('\n');
  });
}

/** The saved login, treating a damaged file as none (login overwrites it, logout removes it). */
function savedOrNothing(cli: AdminCli): SavedLogin | undefined {
  try {
    return readLogin(cli.ctx.env);
  } catch {
    return undefined;
  }
}
