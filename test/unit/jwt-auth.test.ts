import { SignJWT, type JWTPayload } from 'jose';
import { ConfigError, GatewayError } from '../../src/errors';
import { createJwtVerifier, type JwtConfig } from '../../src/identity/jwt-auth';

const SECRET = 'an-hs256-test-key-of-at-least-32-bytes!!';
const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'vectra';
const NOW = new Date('2030-01-01T12:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);

const jwtConfig = (overrides: Partial<JwtConfig> = {}): JwtConfig => ({
  Issuer: ISSUER,
  Audience: AUDIENCE,
  SecretKey: SECRET,
  JwksUrl: '',
  VaultClaim: 'vault',
  ...overrides,
});

const verifier = (overrides: Partial<JwtConfig> = {}) =>
  createJwtVerifier(jwtConfig(overrides), { now: () => NOW });

interface MintOptions {
  claims?: JWTPayload;
  issuer?: string;
  audience?: string;
  subject?: string | null;
  expiresAt?: number | null;
  secret?: string;
}

function mint(options: MintOptions = {}): Promise<string> {
  const jwt = new SignJWT({ vault: 'team-a', ...options.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(nowSeconds - 60);
  if (options.subject !== null) jwt.setSubject(options.subject ?? 'build-bot');
  if (options.expiresAt !== null) jwt.setExpirationTime(options.expiresAt ?? nowSeconds + 3600);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function rejectionOf(token: string, overrides: Partial<JwtConfig> = {}) {
  try {
    await verifier(overrides).verify(token);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    const gatewayError = error as GatewayError;
    expect(gatewayError.code).toBe('VEC_AUTH_TOKEN_REJECTED');
    // Nothing of the token in what goes back to the client.
    const wire = JSON.stringify(gatewayError.toJSON());
    for (const part of token.split('.').filter((p) => p.length > 8)) {
      expect(wire).not.toContain(part);
    }
    return gatewayError.context.reason as string;
  }
  throw new Error('expected the token to be rejected');
}

describe('JWT agent authentication (HS256)', () => {
  it('accepts a valid token: sub names the agent, the vault claim the vault', async () => {
    const verified = await verifier().verify(await mint());
    expect(verified.agentName).toBe('build-bot');
    expect(verified.vault).toBe('team-a');
    expect(verified.claims.iss).toBe(ISSUER);
  });

  it('reads the vault from the configured claim, and allows none', async () => {
    const token = await mint({ claims: { vault: undefined, 'https://acme/vault': 'ops' } });
    expect((await verifier({ VaultClaim: 'https://acme/vault' }).verify(token)).vault).toBe('ops');
    expect((await verifier().verify(token)).vault).toBeUndefined();
  });

  it('rejects a wrong issuer', async () => {
    expect(await rejectionOf(await mint({ issuer: 'https://evil.test' }))).toBe('wrong issuer');
  });

  it('rejects a wrong audience', async () => {
    expect(await rejectionOf(await mint({ audience: 'another-service' }))).toBe('wrong audience');
  });

  it('rejects an expired token (by the injected clock)', async () => {
    const token = await mint({ expiresAt: nowSeconds - 120 });
    expect(await rejectionOf(token)).toBe('expired');
    // Still valid an hour earlier: it is the clock that decides.
    const earlier = createJwtVerifier(jwtConfig(), { now: () => new Date(NOW.getTime() - 3600e3) });
    await expect(earlier.verify(token)).resolves.toMatchObject({ agentName: 'build-bot' });
  });

  it('tolerates 30 seconds of clock skew, not more', async () => {
    const skewed = await verifier().verify(await mint({ expiresAt: nowSeconds - 20 }));
    expect(skewed.agentName).toBe('build-bot');
    expect(await rejectionOf(await mint({ expiresAt: nowSeconds - 40 }))).toBe('expired');
  });

  it('rejects a token without exp or sub', async () => {
    expect(await rejectionOf(await mint({ expiresAt: null }))).toBe('missing claim exp');
    expect(await rejectionOf(await mint({ subject: null }))).toBe('missing claim sub');
  });

  it('rejects alg none', async () => {
    const payload = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'build-bot',
      exp: nowSeconds + 3600,
      vault: 'team-a',
    };
    const unsecured = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
    expect(await rejectionOf(unsecured)).toBe('algorithm not allowed');
  });

  it('rejects a bad signature', async () => {
    const otherKey = await mint({ secret: 'a-different-key-that-is-32-bytes-long!!' });
    expect(await rejectionOf(otherKey)).toBe('bad signature');
    const [header, , signature] = (await mint()).split('.');
    const forged = `${header}.${base64url({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: nowSeconds + 60 })}.${signature}`;
    expect(await rejectionOf(forged)).toBe('bad signature');
  });

  it('rejects HS384/HS512 even with the right key: the algorithm is pinned', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('build-bot')
      .setExpirationTime(nowSeconds + 60)
      .sign(new TextEncoder().encode(SECRET));
    expect(await rejectionOf(token)).toBe('algorithm not allowed');
  });

  it('rejects a sub or vault claim that is not a name', async () => {
    expect(await rejectionOf(await mint({ subject: 'Build Bot' }))).toMatch(/^sub is not/);
    expect(await rejectionOf(await mint({ claims: { vault: ['a', 'b'] } }))).toBe(
      'claim vault is not a vault name',
    );
  });

  it('rejects garbage', async () => {
    expect(await rejectionOf('not-a-jwt')).toBe('malformed');
    expect(await rejectionOf('vec_agt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(
      'malformed',
    );
  });
});

describe('JWT configuration', () => {
  const problemsOf = (overrides: Partial<JwtConfig>) => {
    try {
      createJwtVerifier(jwtConfig(overrides));
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('VEC_CONFIG_INVALID');
      return (error as ConfigError).problems.map((p) => `${p.envVar}: ${p.message}`);
    }
    throw new Error('expected a ConfigError');
  };

  it('needs a SecretKey or a JwksUrl', () => {
    expect(problemsOf({ SecretKey: '' })).toEqual([
      expect.stringMatching(/^Security__AgentAuth__Jwt__SecretKey: set SecretKey .* or JwksUrl/),
    ]);
  });

  it('needs an issuer and an audience, and says why', () => {
    expect(problemsOf({ Issuer: '', Audience: '' })).toEqual([
      expect.stringMatching(/Issuer: required .* any other issuer would pass/),
      expect.stringMatching(/Audience: required .* minted for other services would pass/),
    ]);
  });

  it('refuses both key sources at once, and a short HS256 key', () => {
    expect(problemsOf({ JwksUrl: 'https://idp.test/jwks' })).toEqual([
      expect.stringMatching(/JwksUrl: set SecretKey or JwksUrl, not both/),
    ]);
    expect(problemsOf({ SecretKey: 'short' })).toEqual([
      expect.stringMatching(/SecretKey: must be at least 32 bytes/),
    ]);
  });
});
