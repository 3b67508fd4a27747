import { createHash } from 'node:crypto';
import {
  hashToken,
  hashesEqual,
  mintToken,
  tokenKind,
  tokenPrefixForThrottle,
  type TokenKind,
} from '../../src/identity/tokens';

const BODY = 'A'.repeat(43);
const PREFIXES: Record<TokenKind, string> = {
  agent: 'vec_agt_',
  session: 'vec_sess_',
  admin: 'vec_adm_',
};

describe('mintToken', () => {
  it.each(Object.entries(PREFIXES) as [TokenKind, string][])(
    '%s tokens are the prefix %s plus 43 base64url characters (256 bits)',
    (kind, prefix) => {
      const { token, hash } = mintToken(kind);
      expect(token.startsWith(prefix)).toBe(true);
      const body = token.slice(prefix.length);
      expect(body).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(body, 'base64url')).toHaveLength(32);
      expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
      expect(tokenKind(token)).toBe(kind);
    },
  );

  it('never repeats a token', () => {
    const tokens = new Set(Array.from({ length: 500 }, () => mintToken('agent').token));
    expect(tokens.size).toBe(500);
  });
});

describe('hashToken', () => {
  it('is the SHA-256 hex of the whole token, prefix included', () => {
    const token = `vec_agt_${BODY}`;
    expect(hashToken(token)).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(`vec_adm_${BODY}`)).not.toBe(hashToken(token));
  });
});

describe('tokenKind', () => {
  it.each([
    [`vec_agt_${BODY}`, 'agent'],
    [`vec_sess_${BODY}`, 'session'],
    [`vec_adm_${BODY}`, 'admin'],
    [`vec_agt_${'-_09azAZ'.repeat(5)}abc`, 'agent'],
  ])('%s is a %s token', (token, kind) => {
    expect(tokenKind(token)).toBe(kind);
  });

  it.each([
    ['empty', ''],
    ['a prefix alone', 'vec_agt_'],
    ['one character short', `vec_agt_${BODY.slice(1)}`],
    ['one character long', `vec_agt_${BODY}A`],
    ['padding', `vec_agt_${BODY}=`],
    ['standard base64 characters', `vec_agt_${BODY.slice(2)}+/`],
    ['a space inside', `vec_agt_${BODY.slice(1)} `],
    ['a trailing newline', `vec_agt_${BODY}\n`],
    ['an upper-case prefix', `VEC_AGT_${BODY}`],
    ['an unknown prefix', `vec_xyz_${BODY}`],
    ['a missing underscore', `vec_agt${BODY}A`],
    ['the session prefix misspelt', `vec_ses_${BODY}A`],
    ['a leading space', ` vec_agt_${BODY}`],
    ['non-ASCII', `vec_agt_${BODY.slice(1)}é`],
  ])('rejects %s', (_name, token) => {
    expect(tokenKind(token)).toBeUndefined();
  });
});

describe('hashesEqual', () => {
  const a = hashToken(`vec_agt_${BODY}`);

  it('is true for equal hashes', () => {
    expect(hashesEqual(a, `${a}`)).toBe(true);
  });

  it('is false for hashes differing in the last character', () => {
    const b = `${a.slice(0, -1)}${a.endsWith('0') ? '1' : '0'}`;
    expect(hashesEqual(a, b)).toBe(false);
  });

  it('is false, without throwing, for different lengths', () => {
    expect(hashesEqual(a, a.slice(0, -1))).toBe(false);
    expect(hashesEqual(a, '')).toBe(false);
    expect(hashesEqual('', a)).toBe(false);
  });

  it('compares bytes, not characters', () => {
    // Same length in characters, different in bytes: must not throw inside timingSafeEqual.
    expect(hashesEqual('é', 'ab')).toBe(false);
  });
});

describe('tokenPrefixForThrottle', () => {
  it.each([
    [`vec_agt_abcd${BODY.slice(4)}`, 'vec_agt_abcd'],
    [`vec_sess_WXyz${BODY.slice(4)}`, 'vec_sess_WXyz'],
    [`vec_adm_-_01${BODY.slice(4)}`, 'vec_adm_-_01'],
    ['vec_agt_ab', 'vec_agt_ab'],
    ['vec_agt_a\nb:c', 'vec_agt_a_b_'],
    ['Bearer something', 'unknown'],
    ['', 'unknown'],
  ])('%j → %j', (token, key) => {
    expect(tokenPrefixForThrottle(token)).toBe(key);
  });

  it('never keeps more than 4 characters of the random part', () => {
    for (const kind of Object.keys(PREFIXES) as TokenKind[]) {
      const { token } = mintToken(kind);
      expect(tokenPrefixForThrottle(token)).toBe(token.slice(0, PREFIXES[kind].length + 4));
    }
  });
});
