/**
 * Bearer tokens for agents, sessions and admins: `<prefix><43 base64url chars>` (256 random
 * bits). Only the SHA-256 of the whole token is stored; a plain hash is enough because the
 * token is random (nothing to brute-force), and it lets a lookup be one indexed equality.
 * The prefix tells a person (and a secret scanner) what kind of token leaked.
 */
import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TOKEN_PREFIX } from './types';

export type TokenKind = 'agent' | 'session' | 'admin';

const TOKEN_BYTES = 32;
/** base64url of 32 bytes, unpadded. */
const BODY = /^[A-Za-z0-9_-]{43}$/;
const PREFIXES: Readonly<Record<TokenKind, string>> = TOKEN_PREFIX;
const KINDS = Object.keys(PREFIXES) as TokenKind[];
const THROTTLE_CHARS = 4;

export function mintToken(kind: TokenKind): { token: string; hash: string } {
  const token = `${PREFIXES[kind]}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

/** SHA-256 hex of the whole token, prefix included. */
export function hashToken(token: string): string {
  return oneShotHash
    ? oneShotHash('sha256', token, 'hex')
    : createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * crypto.hash (Node 20.12+): the same digest without a Hash object per call, once per proxied
 * request here. Older Node 20 releases lack it.
 */
const oneShotHash: typeof crypto.hash | undefined = (crypto as Partial<typeof crypto>).hash;

/** The kind a well-formed token claims by its prefix; undefined for anything else. */
export function tokenKind(token: string): TokenKind | undefined {
  for (const kind of KINDS) {
    const prefix = PREFIXES[kind];
    if (token.startsWith(prefix)) return BODY.test(token.slice(prefix.length)) ? kind : undefined;
  }
  return undefined;
}

/** Constant-time for equal lengths; hashes of one algorithm always have equal lengths. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * A key for throttling failed authentications: the prefix plus the first 4 characters of the
 * random part (24 of 256 bits, harmless to log), so guesses are grouped without storing
 * tokens. Never more than those 4 characters; anything without a known prefix shares `unknown`.
 */
export function tokenPrefixForThrottle(token: string): string {
  const kind = KINDS.find((k) => token.startsWith(PREFIXES[k]));
  if (kind === undefined) return 'unknown';
  const prefix = PREFIXES[kind];
  // The key may end up in a log or a cache key: keep it to the token alphabet.
  const start = token.slice(prefix.length, prefix.length + THROTTLE_CHARS);
  return `${prefix}${start.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
