/**
 * AES-256-GCM for values at rest (credentials, the CA private key). A ciphertext is the text
 * `v1.<base64url iv>.<base64url ciphertext+tag>`: the version lets the format change later
 * without guessing, and the whole value fits in one TEXT column on SQLite and PostgreSQL.
 *
 * The `aad` names the row a value belongs to (e.g. `credential:<vaultId>:<key>`). It is not
 * stored, only authenticated: a ciphertext copied into another row fails to decrypt there,
 * so someone with write access to the database cannot swap secrets between services.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface Cipher {
  encrypt(plaintext: string, aad: string): string;
  /** Throws Error('ciphertext failed authentication') for a tampered, moved or malformed value. */
  decrypt(ciphertext: string, aad: string): string;
}

const ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;
/** 96 bits: the IV size GCM is designed for; random per encryption (2^-32 collision bound is far off). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT_VERSION = 'v1';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function createCipher(dataKey: Buffer): Cipher {
  if (!Buffer.isBuffer(dataKey) || dataKey.length !== KEY_BYTES) {
    throw new Error(`the data key must be ${KEY_BYTES} bytes`);
  }
  // A private copy: the caller may zero or reuse its buffer.
  const key = Buffer.from(dataKey);
  return {
    encrypt(plaintext, aad) {
      return `${FORMAT_VERSION}.${sealBytes(key, Buffer.from(plaintext, 'utf8'), aad)}`;
    },
    decrypt(ciphertext, aad) {
      const dot = ciphertext.indexOf('.');
      if (dot < 0 || ciphertext.slice(0, dot) !== FORMAT_VERSION) {
        throw authenticationFailure('not a v1 ciphertext');
      }
      return openBytes(key, ciphertext.slice(dot + 1), aad).toString('utf8');
    },
  };
}

/**
 * Encrypts bytes: `<base64url iv>.<base64url ciphertext+tag>`, without a version (the keyring
 * record that wraps the data key carries its own).
 */
export function sealBytes(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** The inverse of sealBytes; any failure is the same error, so nothing is learnt from it. */
export function openBytes(key: Buffer, sealed: string, aad: string): Buffer {
  const parts = sealed.split('.');
  // Node's base64url decoder skips characters it does not know; check the alphabet first.
  if (parts.length !== 2 || !parts.every((p) => BASE64URL.test(p))) {
    throw authenticationFailure('expected <iv>.<data> in base64url');
  }
  const iv = Buffer.from(parts[0], 'base64url');
  const body = Buffer.from(parts[1], 'base64url');
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES) {
    throw authenticationFailure('wrong IV or data length');
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (error) {
    throw authenticationFailure('wrong key, AAD or tampered data', error);
  }
}

function authenticationFailure(detail: string, cause?: unknown): Error {
  // One message for every failure (callers may match it); the detail is only in `cause`.
  return new Error('ciphertext failed authentication', {
    cause: new Error(detail, cause === undefined ? undefined : { cause }),
  });
}
