/**
 * `vectra service add|update|list|show|remove|enable|disable`. Auth flags name credential KEYS
 * held in the vault (`--credential OPENAI_KEY`), never secret values. `--scheme` (https unless
 * given) and the host's `:port` (443 or 80 unless given) are where the credential may go.
 */
import { Option, type Command } from 'commander';
import { servicePort } from '../vault/host-pattern';
import {
  AUTH_SCHEME_TYPES,
  SERVICE_SCHEMES,
  type AuthScheme,
  type AuthSchemeType,
  type Service,
  type ServiceScheme,
} from '../vault/types';
import type { AdminCli, ConnectionFlags } from './admin-cli';
import { UsageError } from '../client/api-client';
import { table } from './output';
import { commandGroup } from './command-group';

interface VaultFlags extends ConnectionFlags {
  vault: string;
}

export interface AuthFlags {
  auth: AuthSchemeType;
  credential?: string;
  username?: string;
  password?: string;
  header?: string;
  prefix?: string;
  param?: string;
  setHeader?: string[];
}

interface AddFlags extends VaultFlags, AuthFlags {
  host: string;
  scheme?: ServiceScheme;
  disabled?: boolean;
}

interface UpdateFlags extends VaultFlags {
  host?: string;
  scheme?: ServiceScheme;
}

/** Which flags each scheme needs and which it may take; anything else is a usage error. */
const SCHEME_FLAGS: Record<AuthSchemeType, { required: string[]; optional: string[] }> = {
  bearer: { required: ['credential'], optional: [] },
  basic: { required: ['username', 'password'], optional: [] },
  'api-key': { required: ['header', 'credential'], optional: ['prefix'] },
  custom: { required: ['setHeader'], optional: [] },
  query: { required: ['param', 'credential'], optional: [] },
  passthrough: { required: [], optional: [] },
};
const AUTH_FLAG_NAMES = [
  'credential',
  'username',
  'password',
  'header',
  'prefix',
  'param',
  'setHeader',
] as const;
const flagName = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The auth scheme the flags describe, or a UsageError naming the missing or stray flag. */
export function authFromFlags(flags: AuthFlags): AuthScheme {
  const allowed = SCHEME_FLAGS[flags.auth];
  for (const name of AUTH_FLAG_NAMES) {
    const given = flags[name] !== undefined;
    if (!given && allowed.required.includes(name)) {
      throw new UsageError(`--auth ${flags.auth} needs ${flagName(name)}`);
    }
    if (given && !allowed.required.includes(name) && !allowed.optional.includes(name)) {
      throw new UsageError(`${flagName(name)} does not apply to --auth ${flags.auth}`);
    }
  }
  switch (flags.auth) {
    case 'bearer':
      return { type: 'bearer', credential: flags.credential! };
    case 'basic':
      return { type: 'basic', username: flags.username!, password: flags.password! };
    case 'api-key':
      return {
        type: 'api-key',
        header: flags.header!,
        credential: flags.credential!,
        ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      };
    case 'custom':
      return { type: 'custom', headers: parseHeaderTemplates(flags.setHeader!) };
    case 'query':
      return { type: 'query', param: flags.param!, credential: flags.credential! };
    case 'passthrough':
      return { type: 'passthrough' };
  }
}

/** `['X-Api-Key: {{ STRIPE_KEY }}']` → `{ 'X-Api-Key': '{{ STRIPE_KEY }}' }`. */
export function parseHeaderTemplates(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim();
    const template = line.slice(colon + 1).trim();
    if (colon < 0 || !name || !template) {
      throw new UsageError(`--set-header wants 'Name: template', got '${line}'`);
    }
    headers[name] = template;
  }
  return headers;
}

/** One line describing how a service's credential is put on requests. */
export function describeAuth(auth: AuthScheme): string {
  switch (auth.type) {
    case 'bearer':
      return `bearer {{ ${auth.credential} }}`;
    case 'basic':
      return `basic {{ ${auth.username} }}:{{ ${auth.password} }}`;
    case 'api-key':
      return `api-key ${auth.header}: ${auth.prefix ?? ''}{{ ${auth.credential} }}`;
    case 'custom':
      return `custom ${Object.entries(auth.headers)
        .map(([name, template]) => `${name}: ${template}`)
        .join('; ')}`;
    case 'query':
      return `query ?${auth.param}={{ ${auth.credential} }}`;
    case 'passthrough':
      return 'passthrough';
  }
}

function serviceTable(services: Service[]): string {
  return table(
    ['NAME', 'HOST', 'SCHEME', 'PORT', 'AUTH', 'ENABLED'],
    services.map((s) => [
      s.name,
      s.host,
      s.scheme,
      String(servicePort(s) ?? '?'),
      describeAuth(s.auth),
      s.enabled ? 'yes' : 'no',
    ]),
  );
}

const schemeOption = () =>
  new Option(
    '--scheme <scheme>',
    'the only scheme the credential is sent over (default https; http for plain-HTTP services)',
  ).choices(SERVICE_SCHEMES);

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerServiceCommands(program: Command, cli: AdminCli): void {
  const service = commandGroup(program, 'service');
  const withVault = (command: Command) =>
    cli.connection(command).option('--vault <name>', 'vault holding the service', 'default');

  withVault(service.command('add').argument('<name>', 'service name'))
    .description('Add a service to a vault')
    .requiredOption(
      '--host <pattern>',
      'host pattern: api.example.com, *.example.com[:port][/path/*]; without :port, 443 (https) or 80 (http)',
    )
    .addOption(schemeOption())
    .addOption(
      new Option('--auth <scheme>', 'how the credential is put on requests')
        .choices(AUTH_SCHEME_TYPES)
        .makeOptionMandatory(),
    )
    .option('--credential <key>', 'credential key (bearer, api-key, query)')
    .option('--username <key>', 'credential key holding the user name (basic)')
    .option('--password <key>', 'credential key holding the password (basic)')
    .option('--header <name>', 'header name (api-key)')
    .option('--prefix <text>', 'text before the key in the header, e.g. "Token " (api-key)')
    .option('--param <name>', 'query parameter name (query)')
    .option(
      '--set-header <line>',
      "header template 'Name: text {{ KEY }}' (custom; repeatable)",
      collect,
    )
    .option('--disabled', 'add the service switched off')
    .addHelpText(
      'after',
      '\nFlags name credential keys of the vault (set with `vectra credential set`), never values.\n' +
        'The credential goes only to the scheme and port the service names: https on 443 unless\n' +
        '--scheme and a :port in --host say otherwise; requests over another scheme or to another\n' +
        "port match no service (the vault's --unmatched setting applies, never with the credential).\n" +
        "Example: vectra service add stripe --host api.stripe.com --auth custom --set-header 'Authorization: Bearer {{ STRIPE_KEY }}'\n" +
        'Example: vectra service add wiki --host wiki.internal:8080 --scheme http --auth bearer --credential WIKI_TOKEN',
    )
    .action(
      cli.action(async (name: string, flags: AddFlags) => {
        const auth = authFromFlags(flags);
        const answer = await cli.client(flags).createService(flags.vault, {
          name,
          host: flags.host,
          ...(flags.scheme === undefined ? {} : { scheme: flags.scheme }),
          auth,
          enabled: !flags.disabled,
        });
        cli.print(flags, answer, () => `added service ${name} to vault ${flags.vault}`);
      }),
    );

  withVault(service.command('update').argument('<name>', 'service name'))
    .description("Change a service's host pattern or scheme")
    .option('--host <pattern>', 'new host pattern')
    .addOption(schemeOption())
    .action(
      cli.action(async (name: string, flags: UpdateFlags) => {
        if (flags.host === undefined && flags.scheme === undefined) {
          throw new UsageError('service update needs --host or --scheme');
        }
        const answer = await cli.client(flags).updateService(flags.vault, name, {
          ...(flags.host === undefined ? {} : { host: flags.host }),
          ...(flags.scheme === undefined ? {} : { scheme: flags.scheme }),
        });
        cli.print(flags, answer, () => `updated service ${name} in vault ${flags.vault}`);
      }),
    );

  cli.query(
    withVault(service.command('list')),
    "List a vault's services",
    (client, flags: VaultFlags) => client.listServices(flags.vault),
    (answer) => serviceTable(answer.services),
  );

  cli.query(
    withVault(service.command('show').argument('<name>', 'service name')),
    'Show a service',
    (client, flags: VaultFlags, [name]) => client.getService(flags.vault, name),
    (answer) => serviceTable([answer.service]),
  );

  cli.query(
    withVault(service.command('remove').argument('<name>', 'service name')),
    'Remove a service',
    async (client, flags: VaultFlags, [name]) => {
      await client.deleteService(flags.vault, name);
      return { deleted: { vault: flags.vault, service: name } };
    },
    (_answer, flags, [name]) => `removed service ${name} from vault ${flags.vault}`,
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withVault(service.command(verb).argument('<name>', 'service name'))
      .description(`${enabled ? 'Switch on' : 'Switch off'} a service`)
      .action(
        cli.action(async (name: string, flags: VaultFlags) => {
          const answer = await cli.client(flags).updateService(flags.vault, name, { enabled });
          cli.print(flags, answer, () => `${verb}d service ${name} in vault ${flags.vault}`);
        }),
      );
  }
}
