/**
 * `vectra run` with host isolation: the command runs on this machine with proxy and CA-trust
 * variables pointing at the gateway. Cooperative: a process that ignores them bypasses Vectra
 * (container isolation is the enforced mode). The order of the steps matters:
 *   1. resolve the mode and check `--proxy`/VECTRA_PROXY (usage errors before any request);
 *   2. agent mode: check the token against /discover, so a bad one fails fast (its answer also
 *      holds the forward proxy's port);
 *   3. fetch the CA (before minting, so a failure leaves no unused session behind);
 *   4. local mode: mint the session token and, unless the proxy was named, ask /discover with
 *      it for the proxy's port;
 *   5. write the CA files, build the environment, run the command, remove the files.
 */
import type { DiscoverAnswer } from '../client/api-client';
import type { SavedLogin } from '../client/login-store';
import { schema } from '../config/schema';
import { fetchGatewayCa, writeCaFiles, type BundleSources } from './ca-bundle';
import { runChild, type ChildOptions, type ChildOutcome } from './child-process';
import {
  bareHost,
  explicitProxyBase,
  noProxyList,
  proxyUrlWithToken,
  resolveProxyBase,
} from './proxy-url';
import { resolveRunMode, type RunFlags } from './run-mode';
import { checkAgentToken, discoverWithSession, mintSessionToken } from './run-token';

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
  env.VECTRA_ADDR = opts.addr;
  env.VECTRA_TOKEN = opts.token;
  env.VECTRA_VAULT = opts.vault;
  return env;
}

export interface HostRunFlags extends RunFlags {
  proxy?: string;
  /** `--no-proxy` values, each comma-separated. */
  noProxy?: string[];
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
  const mode = resolveRunMode(flags, env, request.readLogin);
  const named = explicitProxyBase(flags.proxy, env) !== undefined;
  let discovered: DiscoverAnswer | undefined;
  if (mode.kind === 'agent') discovered = await checkAgentToken(mode, deps.fetch);
  const vectraCa = await fetchGatewayCa(mode.addr, deps.fetch);
  let token: string;
  if (mode.kind === 'agent') {
    token = mode.token;
  } else {
    token = await mintSessionToken(mode, deps.fetch);
    if (!named) discovered = await discoverWithSession(mode, token, deps.fetch);
  }
  const proxyBase = resolveProxyBase(mode.addr, flags.proxy, env, discovered?.proxy);

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
    });
    const [command, ...args] = request.command;
    return await runChild(command, args, { ...deps.child, env: childEnv });
  } finally {
    files.remove();
  }
}
