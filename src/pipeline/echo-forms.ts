/**
 * The forms in which an upstream may echo an injected secret, as byte patterns for
 * ./echo-scanner.ts. The scanner accepts every pattern byte also percent-encoded (`%HH`, either
 * hex case) and a space also as `+`, so one pattern per form covers its URL-encoded variants.
 *
 * - the value itself, in any ASCII letter case (and the Unicode upper- and lower-case of it),
 *   as UTF-8 and, when all its characters fit in one byte, as latin1;
 * - for values of at least MIN_ENCODED_LENGTH bytes: its UTF-8 bytes in hex (any case), and in
 *   base64 and base64url, with and without padding, plus the characters of its base64 that hold
 *   only its own bits when it sits at byte offset 0, 1 or 2 (mod 3) inside a larger base64
 *   blob. Base64 is matched in its exact case, as its letters are data.
 *
 * docs/security.md ("Redaction of echoed secrets") lists what is not covered.
 */
import { BoundedMemo } from '../bounded-memo';

/** Shorter values are redacted only as themselves: their encoded forms are too likely in data. */
export const MIN_ENCODED_LENGTH = 8;

export interface EchoPattern {
  readonly bytes: Buffer;
  /** ASCII letters match in either case (the value and its hex), or exactly (base64). */
  readonly anyCase: boolean;
}

/** Derived patterns per secret value, computed once; never logged. */
const patternsBySecret = new BoundedMemo<string, readonly EchoPattern[]>(1024);

/** Every pattern that stands for an echo of `secret`, without duplicates. */
export function echoPatterns(secret: string): readonly EchoPattern[] {
  return patternsBySecret.get(secret, derivePatterns);
}

function derivePatterns(secret: string): readonly EchoPattern[] {
  const patterns = new Map<string, EchoPattern>();
  const add = (text: string, anyCase: boolean, encoding: 'utf8' | 'latin1' = 'utf8'): void => {
    if (text === '') return;
    const bytes = Buffer.from(text, encoding);
    const latin1 = bytes.toString('latin1');
    const key = anyCase
      ? `i${latin1.replace(/[A-Z]+/g, (run) => run.toLowerCase())}`
      : `s${latin1}`;
    if (!patterns.has(key)) patterns.set(key, { bytes, anyCase });
  };
  for (const text of [secret, secret.toLowerCase(), secret.toUpperCase()]) {
    add(text, true);
    // Node writes a header value one byte per character: a value with é injected in a header
    // goes out as latin1, and comes back so if the upstream echoes it.
    if (/[\u0080-\u00ff]/.test(text) && !/[\u0100-\uffff]/.test(text)) add(text, true, 'latin1');
  }
  const bytes = Buffer.from(secret, 'utf8');
  if (bytes.length < MIN_ENCODED_LENGTH) return [...patterns.values()];

  add(bytes.toString('hex'), true);
  for (const alphabet of ['base64', 'base64url'] as const) {
    const unpadded = bytes.toString(alphabet).replace(/=+$/, '');
    add(unpadded + '='.repeat((4 - (unpadded.length % 4)) % 4), false);
    add(unpadded, false);
    for (const offset of [0, 1, 2]) add(embeddedBase64(bytes, offset, alphabet), false);
  }
  return [...patterns.values()];
}

/**
 * The base64 characters of `bytes` placed at byte `offset` inside a larger blob that depend on
 * `bytes` alone: each character holds 6 bits, and those that share bits with a neighbouring
 * byte (at most 2 at the start, 1 at the end) are left out.
 */
function embeddedBase64(bytes: Buffer, offset: number, alphabet: 'base64' | 'base64url'): string {
  const text = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet);
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + bytes.length)) / 6);
  return text.slice(first, end);
}
