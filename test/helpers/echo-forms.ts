/** The transformed forms in which an upstream might echo a secret, for redaction tests. */

/** Every byte percent-encoded, hex in `digits` case. */
function percentEveryByte(value: string, digits: 'upper' | 'lower'): string {
  const hex = [...Buffer.from(value)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  return digits === 'upper' ? hex.toUpperCase() : hex;
}

/** The transformed forms an upstream might echo, each standing alone. */
export function echoForms(secret: string): Record<string, string> {
  const bytes = Buffer.from(secret);
  const base64 = bytes.toString('base64');
  const base64url = base64.replace(/\+/g, '-').replace(/\//g, '_');
  const encoded = encodeURIComponent(secret);
  const swapped = [...secret]
    .map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()))
    .join('');
  return {
    exact: secret,
    'lower case': secret.toLowerCase(),
    'upper case': secret.toUpperCase(),
    'swapped case': swapped,
    'URL-encoded': encoded,
    'URL-encoded, lower-case hex': encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    'form-encoded (+ for space)': encoded.replace(/%20/g, '+'),
    'every byte percent-encoded': percentEveryByte(secret, 'upper'),
    'every byte percent-encoded, lower-case hex': percentEveryByte(secret, 'lower'),
    'hex, lower case': bytes.toString('hex'),
    'hex, upper case': bytes.toString('hex').toUpperCase(),
    'base64 with padding': base64,
    'base64 without padding': base64.replace(/=+$/, ''),
    'base64url with padding': base64url,
    'base64url without padding': base64url.replace(/=+$/, ''),
    'base64, URL-encoded': encodeURIComponent(base64),
  };
}
