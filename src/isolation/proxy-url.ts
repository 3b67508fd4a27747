/**
 * Where the child sends its traffic: the gateway's forward proxy, with the token in the URL's
 * userinfo (`http://<token>:<vault>@host:port`), which is how curl, Python, Node and git set
 * `Proxy-Authorization: Basic token:vault`. And which hosts bypass it (NO_PROXY).
 */
import { EXIT } from '../errors';
import { RunError } from './run-mode';

/** System.Proxy.Port's default. */
export const DEFAULT_PROXY_PORT = 7081;

/** Loopback never goes through the proxy. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

/**
 * The proxy the user named: `--proxy`, else VECTRA_PROXY, checked (a RunError, exit 2, when
 * malformed); undefined when neither is set, and the gateway is then asked.
 */
export function explicitProxyBase(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): URL | undefined {
  if (flag) return checkedProxy(flag, '--proxy');
  const fromEnv = env.VECTRA_PROXY?.trim();
  if (fromEnv) return checkedProxy(fromEnv, 'VECTRA_PROXY');
  return undefined;
}

/**
 * The port in `/discover`'s `proxy` field (`{ port }`), when it is one (1–65535); undefined for
 * a gateway that does not advertise it, or advertises something else.
 */
export function advertisedProxyPort(advertised: unknown): number | undefined {
  if (typeof advertised !== 'object' || advertised === null) return undefined;
  const port = (advertised as { port?: unknown }).port;
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535
    ? port
    : undefined;
}

/**
 * The proxy's base URL: `--proxy`, else VECTRA_PROXY, else the API address's host with the port
 * the gateway advertises (`advertised`: `/discover`'s `proxy` field), else with port 7081 (older
 * gateways advertise nothing). The advertised port is paired with the host the API was reached
 * on, never with the gateway's bind address: behind NAT or another name, only that host works.
 */
export function resolveProxyBase(
  addr: string,
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  advertised?: unknown,
): URL {
  const explicit = explicitProxyBase(flag, env);
  if (explicit) return explicit;
  const port = advertisedProxyPort(advertised) ?? DEFAULT_PROXY_PORT;
  return new URL(`http://${new URL(addr).hostname}:${port}`);
}

function checkedProxy(value: string, source: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const ok =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    !url.username &&
    !url.password &&
    (url.pathname === '/' || url.pathname === '') &&
    !url.search &&
    !url.hash;
  if (!ok) {
    throw new RunError(
      `${source} must be the proxy's URL, such as http://127.0.0.1:7081, without credentials or a path`,
      EXIT.CONFIG_OR_USAGE,
      'the token is added by `vectra run`',
    );
  }
  return url!;
}

/** `http://<token>:<vault>@host:port`, both URL-encoded, without a trailing slash. */
export function proxyUrlWithToken(base: URL, token: string, vault: string): string {
  return `${base.protocol}//${encodeURIComponent(token)}:${encodeURIComponent(vault)}@${base.host}`;
}

/** A host name as NO_PROXY lists it: IPv6 without brackets. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * NO_PROXY: loopback, the gateway's API host (the child may call /discover directly), then the
 * `--no-proxy` entries (comma- or space-separated); without duplicates, in that order.
 */
export function noProxyList(gatewayHost: string, extra: readonly string[] = []): string {
  const entries = [...LOOPBACK_HOSTS, gatewayHost, ...extra.flatMap((e) => e.split(/[\s,]+/))]
    .map((e) => e.trim())
    .filter(Boolean);
  return [...new Set(entries)].join(',');
}
