/**
 * Agent identity on the forward proxy: `Proxy-Authorization: Basic base64(token:vault)` (what
 * `vectra run` puts in the proxy URL), `Basic base64(token)` or `Basic base64(token:)`, or
 * `Bearer token`.
 */
export interface ProxyCredentials {
  token?: string;
  vault?: string;
}

export function parseProxyAuthorization(header: string | undefined): ProxyCredentials {
  if (!header) return {};
  const match = /^(\w+)[ ]+(\S+)\s*$/.exec(header);
  if (!match) return {};
  const scheme = match[1].toLowerCase();
  if (scheme === 'bearer') return { token: match[2] };
  if (scheme !== 'basic') return {};
  let decoded: string;
  try {
    decoded = Buffer.from(match[2], 'base64').toString('utf8');
  } catch {
    return {};
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return { token: decoded || undefined };
  const token = percentDecoded(decoded.slice(0, colon));
  const vault = percentDecoded(decoded.slice(colon + 1));
  return { token: token || undefined, vault: vault || undefined };
}

/** Some clients send the proxy URL's userinfo still percent-encoded. */
function percentDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
