/** `vectra config show|validate`. */
import type { Command } from 'commander';
import { CONFIG_KEYS } from '../config/keys';
import { loadConfig, valueAt, type LoadedConfig } from '../config/loader';
import { maskSecret } from '../config/mask';
import { EXIT } from '../errors';
import { table, type Io } from './output';
import type { CommandContext } from './command-context';

export function effectiveValues(loaded: LoadedConfig) {
  return CONFIG_KEYS.map((key) => {
    const value = valueAt(loaded.config, key.path);
    return {
      key: key.path,
      envVar: key.envVar,
      value: key.sensitive ? maskSecret(key.path, value) : value,
      source: loaded.origins.get(key.path) ?? 'default',
    };
  });
}

function show(io: Io, loaded: LoadedConfig, json: boolean): void {
  const rows = effectiveValues(loaded);
  if (json) {
    io.out(JSON.stringify({ files: loaded.files, keys: rows }, null, 2));
    return;
  }
  io.out(
    table(
      ['KEY', 'VALUE', 'SOURCE'],
      rows.map((r) => [
        r.key,
        typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
        r.source,
      ]),
    ),
  );
}

export function registerConfigCommands(program: Command, ctx: CommandContext): void {
  const config = program.command('config').description('Inspect and check the configuration');
  config
    .command('show')
    .description("Print every key's effective value and where it came from (secrets masked)")
    .option(
      '--config <file>',
      'extra JSON configuration file, layered over config/appsettings*.json',
    )
    .option('--json', 'machine-readable output')
    .action((opts: { config?: string; json?: boolean }) => {
      show(ctx.io, loadConfig({ configFile: opts.config, env: ctx.env }), opts.json === true);
      ctx.exitCode = EXIT.OK;
    });
  config
    .command('validate')
    .description(
      'Check the configuration; exit 0 when valid, 2 with every problem listed otherwise',
    )
    .option(
      '--config <file>',
      'extra JSON configuration file, layered over config/appsettings*.json',
    )
    .action((opts: { config?: string }) => {
      const loaded = loadConfig({ configFile: opts.config, env: ctx.env });
      const files = loaded.files.length
        ? loaded.files.join(', ')
        : 'no files, defaults and environment only';
      ctx.io.out(`configuration is valid (${CONFIG_KEYS.length} keys; ${files})`);
      ctx.exitCode = EXIT.OK;
    });
}
