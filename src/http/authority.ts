/** `host:port` authorities of CONNECT requests and Host headers, IPv6 in brackets. */

export interface Authority {
  /** Lower-case host, IPv6 without brackets. */
  host: string;
  port: number;
}

export function parseAuthority(
  value: string | undefined,
  defaultPort?: number,
): Authority | undefined {
  if (!value) return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s@]+))(?::(\d{1,5}))?$/.exec(value.trim());
  if (!match) return undefined;
  const host = (match[1] ?? match[2]).toLowerCase().replace(/\.$/, '');
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

export function formatAuthority({ host, port }: Authority): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The Host header for a request: its authority, without the scheme's default port. */
export function hostHeader({
  scheme,
  host,
  port,
}: Authority & { scheme: 'http' | 'https' }): string {
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return port === (scheme === 'https' ? 443 : 80) ? bracketed : `${bracketed}:${port}`;
}
