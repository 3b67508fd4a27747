/**
 * JWT agent authentication with keys from a JWKS URL, served by a local server on port 0:
 * RS256 and ES256 accepted, an unknown kid, HS256 "signed" with the public key (algorithm
 * confusion), alg none, and an unreachable JWKS all rejected. Also JWKS over HTTPS with a
 * private CA through the verifier's agent option.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { Agent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
  type KeyLike,
} from 'jose';
import { createJwtVerifier, type JwtConfig } from '../../src/identity/jwt-auth';
import type { Logger } from '../../src/observability/types';
import { selfSignedCertificate } from '../helpers/certificates';
import { rejection } from '../helpers/errors';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'vectra';

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyLike;
  publicKey: KeyLike;
  jwk: JWK;
}

async function signingKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

function mint(key: SigningKey, claims: JWTPayload = {}, kid = key.kid): Promise<string> {
  return new SignJWT({ vault: 'team-a', ...claims })
    .setProtectedHeader({ alg: key.alg, kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('build-bot')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

const config = (jwksUrl: string): JwtConfig => ({
  Issuer: ISSUER,
  Audience: AUDIENCE,
  SecretKey: '',
  JwksUrl: jwksUrl,
  VaultClaim: 'vault',
});

async function reasonFor(promise: Promise<unknown>): Promise<string> {
  const error = await rejection(promise);
  expect(error.code).toBe('VEC_AUTH_TOKEN_REJECTED');
  return error.context.reason as string;
}

describe('JWT agent authentication with a JWKS URL', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let server: Server;
  let jwksUrl: string;
  let fetches: number;

  beforeAll(async () => {
    rsa = await signingKey('rsa-1', 'RS256');
    ec = await signingKey('ec-1', 'ES256');
    server = createHttpServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
    });
    jwksUrl = `http://127.0.0.1:${await listen(server)}/.well-known/jwks.json`;
  });

  afterAll(() => close(server));

  beforeEach(() => {
    fetches = 0;
  });

  it('accepts RS256 and ES256 tokens whose kid is in the JWKS, fetching it once', async () => {
    const verifier = createJwtVerifier(config(jwksUrl));
    await expect(verifier.verify(await mint(rsa))).resolves.toMatchObject({
      agentName: 'build-bot',
      vault: 'team-a',
    });
    await expect(verifier.verify(await mint(ec))).resolves.toMatchObject({
      agentName: 'build-bot',
    });
    expect(fetches).toBe(1);
  });

  it('rejects a token whose kid is not in the JWKS', async () => {
    const stranger = await signingKey('rsa-unknown', 'RS256');
    const verifier = createJwtVerifier(config(jwksUrl));
    expect(await reasonFor(verifier.verify(await mint(stranger)))).toBe(
      'no signing key matches the token',
    );
  });

  it('rejects a token signed by another key under a known kid', async () => {
    const impostor = await signingKey('rsa-1', 'RS256');
    const verifier = createJwtVerifier(config(jwksUrl));
    expect(await reasonFor(verifier.verify(await mint(impostor)))).toBe('bad signature');
  });

  it('rejects HS256 signed with the public key (algorithm confusion)', async () => {
    const publicPem = await exportSPKI(rsa.publicKey);
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('build-bot')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(publicPem));
    const verifier = createJwtVerifier(config(jwksUrl));
    expect(await reasonFor(verifier.verify(confused))).toBe('algorithm not allowed');
  });

  it('rejects alg none', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 300;
    const unsecured = `${b64({ alg: 'none', kid: rsa.kid })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'build-bot', exp })}.`;
    const verifier = createJwtVerifier(config(jwksUrl));
    expect(await reasonFor(verifier.verify(unsecured))).toBe('algorithm not allowed');
  });

  it('rejects every token when the JWKS cannot be fetched (fail closed)', async () => {
    const down = createHttpServer();
    const port = await listen(down);
    await close(down);
    const verifier = createJwtVerifier(config(`http://127.0.0.1:${port}/jwks`));
    expect(await reasonFor(verifier.verify(await mint(rsa)))).toBe('signing keys unavailable');
  });

  it('fetches the JWKS over HTTPS with a private CA given as an agent', async () => {
    const cert = selfSignedCertificate('localhost');
    const tls = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [rsa.jwk] }));
    });
    const port = await listen(tls);
    const agent = new Agent({ ca: cert.certPem, keepAlive: false });
    try {
      const url = `https://127.0.0.1:${port}/jwks`;
      const trusting = createJwtVerifier(config(url), { jwksAgent: agent });
      await expect(trusting.verify(await mint(rsa))).resolves.toMatchObject({
        agentName: 'build-bot',
      });
      // Without it, the certificate is not trusted and nothing is accepted.
      const untrusting = createJwtVerifier(config(url));
      expect(await reasonFor(untrusting.verify(await mint(rsa)))).toBe('signing keys unavailable');
    } finally {
      agent.destroy();
      await close(tls);
    }
  });

  it('warns when the JWKS comes over plain http from another host', () => {
    const lines: string[] = [];
    const logger = { warn: (message: string) => lines.push(message) } as unknown as Logger;
    createJwtVerifier(config('http://idp.internal/jwks'), { logger });
    createJwtVerifier(config(jwksUrl), { logger });
    expect(lines).toEqual([expect.stringContaining('JwksUrl is plain http')]);
  });
});
