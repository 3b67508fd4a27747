/** Masks secret configuration values for `config show`, error lists and logs. */

const MASK = '********';

/**
 * Masks a secret key's value. Connection strings keep their non-secret parts (host, port,
 * database) so an operator can still see where Vectra connects; anything else is hidden whole.
 */
export function maskSecret(key: string, value: unknown): string {
  if (value === '' || value === undefined || value === null) return '';
  if (typeof value !== 'string') return MASK;
  if (/ConnectionString$/i.test(key)) return maskConnectionString(value);
  if (/Url$|Uri$/i.test(key)) return /^https?:\/\//i.test(value) ? maskUrl(value) : MASK;
  return MASK;
}

function maskConnectionString(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return maskUrl(value);
  // `Password=…`/`Pwd=…` (Npgsql, `;`-separated) and `password=…` (StackExchange.Redis, `,`-separated).
  return value.replace(
    /((?:^|[;,])\s*(?:password|pwd)\s*=\s*)("[^"]*"|'[^']*'|[^;,]*)/gi,
    `$1${MASK}`,
  );
}

function maskUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return MASK;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    // Webhook URLs carry their secret in the path or query: keep the origin only.
    return url.pathname.length > 1 || url.search ? `${url.origin}/${MASK}` : url.origin;
  }
  if (url.password) url.password = MASK;
  return url.toString();
}
