/**
 * Agent authentication with external JWTs (`Security.AgentAuth.Provider = Jwt`), checked with
 * jose against `Security.AgentAuth.Jwt`: signed either with the shared `SecretKey` (HS256) or
 * by a key published at `JwksUrl` (asymmetric algorithms only). `sub` names the agent, the
 * `VaultClaim` claim (default `vault`) the vault it works in.
 *
 * Every check is pinned rather than left to the token: the accepted algorithms are a fixed
 * list per key kind (so `alg: none` and HS256-signed-with-the-public-key are refused), and the
 * issuer, audience and expiry are required. Every failure is VEC_AUTH_TOKEN_REJECTED with a
 * short reason (expired, wrong issuer, bad signature, …); the token and its claims never appear
 * in a message.
 */
import type { Agent } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { SecurityConfig } from '../config/schema';
import { ConfigError, GatewayError, type ConfigProblem } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import { NAME_PATTERN } from '../names';

export type JwtConfig = SecurityConfig['AgentAuth']['Jwt'];

export interface VerifiedJwt {
  agentName: string;
  vault: string | undefined;
  claims: JWTPayload;
}

export interface JwtVerifier {
  /** The agent and vault a valid token names; rejects with VEC_AUTH_TOKEN_REJECTED otherwise. */
  verify(token: string): Promise<VerifiedJwt>;
}

export interface JwtVerifierOptions {
  /** The clock expiry and not-before are checked against. */
  now?: () => Date;
  /** jose 5 fetches the JWKS with node:http(s); an agent for a proxy or a private CA. */
  jwksAgent?: Agent;
  /** How long one JWKS fetch may take; default 5 s (jose's). */
  jwksTimeoutMs?: number;
  logger?: Logger;
}

const HMAC_ALGORITHMS = ['HS256'];
/** Asymmetric only: a JWKS holds public keys, and an HMAC "signed" with one proves nothing. */
const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 256 bits. */
const MIN_SECRET_KEY_BYTES = 32;
/** Clocks of the issuer and the gateway drift a little; more would extend stolen tokens. */
const CLOCK_TOLERANCE_SECONDS = 30;
const CONFIG_KEY = 'Security.AgentAuth.Jwt';

export function createJwtVerifier(jwt: JwtConfig, options: JwtVerifierOptions = {}): JwtVerifier {
  assertValidConfig(jwt);
  const now = options.now ?? (() => new Date());
  const vaultClaim = jwt.VaultClaim || 'vault';
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (jwt.SecretKey) {
    key = new TextEncoder().encode(jwt.SecretKey);
    algorithms = HMAC_ALGORITHMS;
  } else {
    const url = new URL(jwt.JwksUrl);
    if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
      (options.logger ?? silentLogger).warn(
        `${CONFIG_KEY}.JwksUrl is plain http: whoever can alter that traffic can sign agent tokens; use https`,
        { key: `${CONFIG_KEY}.JwksUrl` },
      );
    }
    key = createRemoteJWKSet(url, {
      agent: options.jwksAgent,
      timeoutDuration: options.jwksTimeoutMs,
    });
    algorithms = JWKS_ALGORITHMS;
  }

  return {
    async verify(token) {
      let claims: JWTPayload;
      try {
        // The overloads split on the key's type; both branches take the same options.
        const verifyOptions = {
          issuer: jwt.Issuer,
          audience: jwt.Audience,
          algorithms,
          requiredClaims: ['exp', 'sub'],
          currentDate: now(),
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        };
        ({ payload: claims } =
          key instanceof Uint8Array
            ? await jwtVerify(token, key, verifyOptions)
            : await jwtVerify(token, key, verifyOptions));
      } catch (error) {
        throw rejected(reasonFor(error));
      }
      if (typeof claims.sub !== 'string' || !NAME_PATTERN.test(claims.sub)) {
        throw rejected('sub is not an agent name ([a-z0-9][a-z0-9._-]{0,62})');
      }
      const vault = claims[vaultClaim];
      if (vault === undefined) return { agentName: claims.sub, vault: undefined, claims };
      if (typeof vault !== 'string' || !NAME_PATTERN.test(vault)) {
        throw rejected(`claim ${vaultClaim} is not a vault name`);
      }
      return { agentName: claims.sub, vault, claims };
    },
  };
}

function rejected(reason: string): GatewayError {
  return new GatewayError('VEC_AUTH_TOKEN_REJECTED', `JWT rejected: ${reason}.`, {
    context: { reason },
  });
}

/** A short, fixed account of jose's error: never its message, which may quote claims. */
function reasonFor(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `missing claim ${error.claim}`;
    if (error.claim === 'iss') return 'wrong issuer';
    if (error.claim === 'aud') return 'wrong audience';
    if (error.claim === 'nbf') return 'not yet valid';
    if (error.claim === 'iat') return 'issued in the future';
    return `invalid claim ${error.claim}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no signing key matches the token';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'several signing keys match';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return 'signing keys unavailable';
  }
  if (error instanceof errors.JOSENotSupported) return 'algorithm not allowed';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  // A JWKS fetch that failed outright (refused, DNS, TLS) throws a plain Node error.
  return 'signing keys unavailable';
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

/**
 * Issuer and audience are required, not optional checks: without the issuer, any token the
 * same key or JWKS signs for another system passes; without the audience, a token the issuer
 * minted for another service (which that service may leak or replay) passes as an agent token.
 */
function assertValidConfig(jwt: JwtConfig): void {
  const problems: ConfigProblem[] = [];
  const problem = (name: string, message: string) =>
    problems.push({
      key: `${CONFIG_KEY}.${name}`,
      envVar: `${CONFIG_KEY}.${name}`.replace(/\./g, '__'),
      source: 'config',
      message,
    });
  if (!jwt.Issuer) {
    problem('Issuer', 'required with the Jwt provider: tokens from any other issuer would pass');
  }
  if (!jwt.Audience) {
    problem(
      'Audience',
      'required with the Jwt provider: tokens minted for other services would pass',
    );
  }
  if (!jwt.SecretKey && !jwt.JwksUrl) {
    problem('SecretKey', 'set SecretKey (HS256) or JwksUrl (asymmetric keys) to check signatures');
  } else if (jwt.SecretKey && jwt.JwksUrl) {
    problem('JwksUrl', 'set SecretKey or JwksUrl, not both: one source of signing keys');
  } else if (jwt.SecretKey && Buffer.byteLength(jwt.SecretKey) < MIN_SECRET_KEY_BYTES) {
    problem('SecretKey', `must be at least ${MIN_SECRET_KEY_BYTES} bytes for HS256 (RFC 7518)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
