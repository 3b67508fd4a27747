import { randomBytes } from 'node:crypto';
import { createCipher } from '../../src/vault/crypto';

const AAD = 'credential:vault-1:STRIPE_KEY';
const FORMAT = /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/;

function failsAuthentication(fn: () => unknown): void {
  expect(fn).toThrow(/^ciphertext failed authentication$/);
}

/** Flips one bit of the base64url part `index` (1 = iv, 2 = ciphertext+tag) at byte `at`. */
function flipBit(ciphertext: string, index: 1 | 2, at: number): string {
  const parts = ciphertext.split('.');
  const bytes = Buffer.from(parts[index], 'base64url');
  bytes[at < 0 ? bytes.length + at : at] ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('createCipher (AES-256-GCM)', () => {
  const cipher = createCipher(randomBytes(32));

  it.each([
    ['a short secret', 'sk_live_123'],
    ['empty', ''],
    ['unicode', 'pässwörd ✓ 密码'],
    ['long', 'x'.repeat(100_000)],
  ])('round-trips %s text in the v1.<iv>.<data> format', (_name, plaintext) => {
    const sealed = cipher.encrypt(plaintext, AAD);
    expect(sealed).toMatch(FORMAT);
    expect(sealed).not.toContain(plaintext || '\u0000');
    expect(cipher.decrypt(sealed, AAD)).toBe(plaintext);
  });

  it('uses a fresh IV for every encryption of the same value', () => {
    const ivs = new Set<string>();
    const sealed = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const value = cipher.encrypt('same secret', AAD);
      sealed.add(value);
      ivs.add(value.split('.')[1]);
    }
    expect(ivs.size).toBe(200);
    expect(sealed.size).toBe(200);
  });

  it('refuses a ciphertext moved to another row (AAD mismatch)', () => {
    const sealed = cipher.encrypt('sk_live_123', AAD);
    failsAuthentication(() => cipher.decrypt(sealed, 'credential:vault-1:OTHER_KEY'));
    failsAuthentication(() => cipher.decrypt(sealed, 'credential:vault-2:STRIPE_KEY'));
    failsAuthentication(() => cipher.decrypt(sealed, ''));
  });

  it.each([
    ['the IV', 1, 0],
    ['the first ciphertext byte', 2, 0],
    ['the tag', 2, -1],
  ] as const)('refuses a value with a bit flipped in %s', (_name, part, at) => {
    const sealed = cipher.encrypt('sk_live_123', AAD);
    failsAuthentication(() => cipher.decrypt(flipBit(sealed, part, at), AAD));
  });

  it('refuses a value sealed under another data key', () => {
    const other = createCipher(randomBytes(32));
    failsAuthentication(() => cipher.decrypt(other.encrypt('sk_live_123', AAD), AAD));
  });

  it.each([
    ['empty', ''],
    ['no version', 'abc.def'],
    ['an unknown version', 'v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA'],
    ['a truncated body (shorter than the tag)', 'v1.AAAAAAAAAAAAAAAA.AAAA'],
    ['a short IV', 'v1.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
    ['characters outside base64url', 'v1.AAAAAAAAAAAAAAAA.AAAA*AAAAAAAAAAAAAAAAA'],
    ['an extra part', 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA'],
  ])('refuses a malformed value: %s', (_name, value) => {
    failsAuthentication(() => cipher.decrypt(value, AAD));
  });

  it('keeps its own copy of the data key', () => {
    const key = randomBytes(32);
    const own = createCipher(key);
    const sealed = own.encrypt('secret', AAD);
    key.fill(0);
    expect(own.decrypt(sealed, AAD)).toBe('secret');
  });

  it.each([16, 31, 33, 0])('refuses a data key of %i bytes', (length) => {
    expect(() => createCipher(randomBytes(length))).toThrow('the data key must be 32 bytes');
  });
});
