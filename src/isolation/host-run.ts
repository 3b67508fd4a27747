/**
 * `vectra run` with host isolation: the command runs on this machine with proxy and CA-trust
 * variables pointing at the gateway. Cooperative: a process that ignores them bypasses Vectra
 * (container isolation is the enforced mode). Gateway access is resolved first
 * (./gateway-access.ts); then the CA files are written, the environment built, the command run
 * and the files removed.
 */
import type { SavedLogin } from '../client/login-store';
import { schema } from '../config/schema';
import { writeCaFiles, type BundleSources } from './ca-bundle';
import { resolveGatewayAccess } from './gateway-access';
import { runChild, type ChildOptions, type ChildOutcome } from './child-process';
import { NODE_PRELOAD_FILE, nodeOptionsWithPreload } from './node-preload';
import { bareHost, noProxyList, proxyUrlWithToken } from './proxy-url';
import type { RunFlags } from './run-mode';

/** Set in both cases: most tools read the lower-case form, some only the upper-case one. */
export const PROXY_VARIABLES = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'] as const;

/** Each names one file that replaces the tool's trust store: they get the full bundle. */
export const BUNDLE_VARIABLES = [
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'AWS_CA_BUNDLE',
  'DENO_CERT',
] as const;

const MANAGED: ReadonlySet<string> = new Set<string>([
  ...PROXY_VARIABLES,
  ...BUNDLE_VARIABLES,
  'NODE_USE_ENV_PROXY',
  'NODE_EXTRA_CA_CERTS',
]);

/** `System`, `Security`, …: a `Section__Key` variable configures the gateway itself. */
const CONFIG_SECTIONS: ReadonlySet<string> = new Set(
  Object.keys(schema).map((s) => s.toUpperCase()),
);

/**
 * True for what the child must not inherit: a stale copy of a variable `run` sets, and anything
 * of Vectra's — VECTRA_* (the admin token, VECTRA_SECRET_* credential values), the seed's
 * AGENT_VAULT_* aliases, and gateway configuration such as Security__Admin__BootstrapToken.
 */
export function isWithheld(name: string): boolean {
  const upper = name.toUpperCase();
  return (
    MANAGED.has(upper) ||
    upper.startsWith('VECTRA_') ||
    upper.startsWith('AGENT_VAULT_') ||
    (upper.includes('__') && CONFIG_SECTIONS.has(upper.split('__')[0]))
  );
}

export interface ChildEnvOptions {
  /** The gateway's API address. */
  addr: string;
  token: string;
  vault: string;
  /** The proxy URL with the token in it. */
  proxyUrl: string;
  noProxy: string;
  vectraCaFile: string;
  bundleFile: string;
  /** The preload put in front of the user's NODE_OPTIONS; none when undefined. */
  nodePreload?: string;
}

/** The child's environment: `base` without withheld variables, plus the gateway's settings. */
export function buildChildEnv(base: NodeJS.ProcessEnv, opts: ChildEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !isWithheld(name)) env[name] = value;
  }
  const proxy = { HTTPS_PROXY: opts.proxyUrl, HTTP_PROXY: opts.proxyUrl, NO_PROXY: opts.noProxy };
  for (const [name, value] of Object.entries(proxy)) {
    env[name] = value;
    env[name.toLowerCase()] = value;
  }
  env.NODE_USE_ENV_PROXY = '1';
  for (const name of BUNDLE_VARIABLES) env[name] = opts.bundleFile;
  env.NODE_EXTRA_CA_CERTS = opts.vectraCaFile;
  if (opts.nodePreload !== undefined) {
    env.NODE_OPTIONS = nodeOptionsWithPreload(env.NODE_OPTIONS, opts.nodePreload);
  }
  env.VECTRA_ADDR = opts.addr;
  env.VECTRA_TOKEN = opts.token;
  env.VECTRA_VAULT = opts.vault;
  return env;
}

export interface HostRunFlags extends RunFlags {
  proxy?: string;
  /** `--no-proxy` values, each comma-separated. */
  noProxy?: string[];
  /** False (`--no-node-preload`): NODE_OPTIONS is passed on as it is. */
  nodePreload?: boolean;
}

export interface HostRunRequest {
  flags: HostRunFlags;
  /** The command and its arguments. */
  command: readonly string[];
  env: NodeJS.ProcessEnv;
  readLogin: () => SavedLogin | undefined;
}

export interface HostRunDeps {
  fetch?: typeof fetch;
  child?: Omit<ChildOptions, 'env'>;
  bundleSources?: BundleSources;
  /** Parent of the CA directory (the system temp directory by default). */
  tmpDir?: string;
}

/** Runs the command through the gateway; the outcome carries the exit code to return. */
export async function runHost(
  request: HostRunRequest,
  deps: HostRunDeps = {},
): Promise<ChildOutcome> {
  const { flags, env } = request;
  const { mode, token, vectraCa, proxyBase } = await resolveGatewayAccess(request, deps.fetch);

  const files = writeCaFiles(vectraCa, deps.bundleSources, deps.tmpDir);
  try {
    const childEnv = buildChildEnv(env, {
      addr: mode.addr,
      token,
      vault: mode.vault,
      proxyUrl: proxyUrlWithToken(proxyBase, token, mode.vault),
      noProxy: noProxyList(bareHost(new URL(mode.addr)), flags.noProxy),
      vectraCaFile: files.vectraCa,
      bundleFile: files.bundle,
      nodePreload: flags.nodePreload === false ? undefined : NODE_PRELOAD_FILE,
    });
    const [command, ...args] = request.command;
    return await runChild(command, args, { ...deps.child, env: childEnv });
  } finally {
    files.remove();
  }
}
