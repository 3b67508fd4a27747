/**
 * `vectra master-password change`: re-wraps the data key under a new master password, or under
 * the key file (`--to-keyfile`).
 *
 * Safe while the gateway runs: it rewrites exactly one row, `settings` key `keyring`, in one
 * statement, and the data key inside it stays the same. Running replicas unwrapped that key
 * at start and keep it in memory, and no credential row changes, so they carry on; only the
 * next start needs the new password — change Security__MasterPassword (or the file) with it.
 */
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/loader';
import { EXIT } from '../errors';
import { createSettingsRepository, openDatabase } from '../storage';
import { changeMasterPassword, keyFilePath, resolveMasterPassword } from '../vault/keyring';
import type { CommandContext } from './command-context';
import { commandGroup } from './command-group';

/** Where the new password comes from when it is not piped in (never a flag: argv is visible in ps). */
export const NEW_PASSWORD_ENV = 'VECTRA_NEW_MASTER_PASSWORD';

interface ChangeOptions {
  config?: string;
  newPasswordStdin?: boolean;
  toKeyfile?: boolean;
}

export function registerMasterPasswordCommand(
  program: Command,
  ctx: CommandContext,
  deps: { stdin?: NodeJS.ReadableStream } = {},
): void {
  const group = commandGroup(program, 'master-password');
  group
    .command('change')
    .description(
      `Protect credentials with a new master password (from stdin or ${NEW_PASSWORD_ENV}) or the key file; credentials are not re-encrypted`,
    )
    .option(
      '--config <file>',
      'extra JSON configuration file, layered over config/appsettings*.json',
    )
    .option('--new-password-stdin', 'read the new password from the first line of stdin')
    .addOption(
      new Option(
        '--to-keyfile',
        'protect credentials with <DataDirectory>/master.key instead of a password',
      ).conflicts('newPasswordStdin'),
    )
    .action(async (opts: ChangeOptions, command: Command) => {
      const usage = (message: string): never =>
        command.error(`error: ${message}`, { exitCode: EXIT.CONFIG_OR_USAGE });
      const loaded = loadConfig({ configFile: opts.config, env: ctx.env });
      let next: string | undefined;
      if (opts.toKeyfile) {
        if (ctx.env[NEW_PASSWORD_ENV])
          usage(`${NEW_PASSWORD_ENV} is set; unset it or drop --to-keyfile`);
      } else {
        next = opts.newPasswordStdin
          ? await readFirstLine(deps.stdin ?? ctx.stdin ?? process.stdin)
          : ctx.env[NEW_PASSWORD_ENV];
        if (!next) {
          usage(
            `the new master password is empty; pipe it with --new-password-stdin, set ${NEW_PASSWORD_ENV}, or use --to-keyfile`,
          );
        }
      }
      const current = await resolveMasterPassword(loaded.config.Security);
      const dataDirectory = loaded.config.System.Storage.DataDirectory;
      const database = await openDatabase(loaded.config.System.Storage.Database);
      try {
        const { source } = await changeMasterPassword({
          settings: createSettingsRepository(database),
          dataDirectory,
          current,
          next,
        });
        ctx.io.out(
          source === 'password'
            ? 'master password changed; start the gateway with the new one in Security__MasterPassword (or Security__MasterPasswordFile)'
            : `credentials are now protected by the key file ${keyFilePath(dataDirectory)}; unset Security__MasterPassword and Security__MasterPasswordFile before the next start`,
        );
        ctx.exitCode = EXIT.OK;
      } finally {
        await database.close();
      }
    });
}

/** The first line of a stream, without its line ending; stops reading there. */
export function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const cleanUp = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      // Paused and without listeners, stdin no longer keeps the process alive.
      stream.pause();
    };
    const onEnd = () => {
      cleanUp();
      resolve(text.split('\n')[0].replace(/\r$/, ''));
    };
    const onData = (chunk: string | Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) onEnd();
    };
    const onError = (error: Error) => {
      cleanUp();
      reject(error);
    };
    stream.setEncoding('utf8'); // decodes characters split across chunks
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
