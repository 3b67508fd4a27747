/**
 * Start-up security at the gateway level: the key-file warning in /health, a wrong master
 * password stopping `vectra serve`, and JWT agent authentication on /discover.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { exitOf, freshWorkdir, runCli, startServe } from '../helpers/cli';
import { json, startTestGateway } from '../helpers/gateway';

describe('master key at start-up', () => {
  it('warns in /health (still Healthy) when credentials are protected by a key file', async () => {
    const gateway = await startTestGateway();
    try {
      const res = await fetch(`${gateway.urls.http}/health`);
      const body = await json(res);
      expect(res.status).toBe(200);
      expect(body.status).toBe('Healthy');
      expect(body.checks.secrets.status).toBe('Healthy');
      expect(body.checks.secrets.description).toContain('WARNING');
      expect(body.checks.secrets.description).toContain('Security__MasterPassword');
      // Public: the key file's path is in the log, not in /health.
      expect(JSON.stringify(body)).not.toContain('master.key');
    } finally {
      await gateway.close();
    }
  });

  it('has no warning with a master password', async () => {
    const gateway = await startTestGateway({
      Security__MasterPassword: 'correct horse battery staple',
    });
    try {
      const body = await json(await fetch(`${gateway.urls.http}/health`));
      expect(body.checks.secrets.description).not.toContain('WARNING');
    } finally {
      await gateway.close();
    }
  });

  it('a wrong master password stops `vectra serve` with one clear line, never garbage', async () => {
    const cwd = freshWorkdir();
    const env = { System__Server__Http__Port: '0', Security__MasterPassword: 'the right one' };
    const first = await runCli(['config', 'validate'], { cwd, env });
    expect(first.code).toBe(0);
    // The first start creates the keyring under the right password.
    const { child } = await startServe([], { cwd, env });
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);

    const wrong = await runCli(['serve'], {
      cwd,
      env: { ...env, Security__MasterPassword: 'a wrong one' },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('[VEC_MASTER_KEY_INVALID]');
    expect(wrong.stderr).not.toContain('a wrong one');
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('JWT agent authentication', () => {
  const secret = randomBytes(32).toString('base64url');
  const jwtEnv = {
    Security__AgentAuth__Provider: 'Jwt',
    Security__AgentAuth__Jwt__Issuer: 'https://auth.example.test',
    Security__AgentAuth__Jwt__Audience: 'vectra-gateway',
    Security__AgentAuth__Jwt__SecretKey: secret,
  };
  const mint = (claims: Record<string, unknown>, options: { issuer?: string; key?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('jwt-agent')
      .setIssuer(options.issuer ?? 'https://auth.example.test')
      .setAudience('vectra-gateway')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(options.key ?? secret));

  it('accepts a valid JWT for the vault in its claim and refuses a forged or foreign one', async () => {
    const gateway = await startTestGateway(jwtEnv);
    try {
      const discover = (token: string) =>
        fetch(`${gateway.urls.http}/discover`, { headers: { authorization: `Bearer ${token}` } });
      const ok = await discover(await mint({ vault: 'default' }));
      expect(ok.status).toBe(200);
      expect((await json(ok)).vault).toBe('default');
      const wrongIssuer = await discover(
        await mint({ vault: 'default' }, { issuer: 'https://evil.example' }),
      );
      expect(wrongIssuer.status).toBe(401);
      expect(wrongIssuer.headers.get('x-vectra-error')).toBe('VEC_AUTH_TOKEN_REJECTED');
      const forged = await discover(
        await mint({ vault: 'default' }, { key: randomBytes(32).toString('base64url') }),
      );
      expect(forged.status).toBe(401);
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({
          sub: 'jwt-agent',
          vault: 'default',
          iss: 'https://auth.example.test',
          aud: 'vectra-gateway',
          exp: Math.floor(Date.now() / 1000) + 60,
        }),
      ).toString('base64url')}.`;
      expect((await discover(none)).status).toBe(401);
    } finally {
      await gateway.close();
    }
  });
});
