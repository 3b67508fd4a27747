/**
 * The web UI's sign-in through the real gateway: an admin token is exchanged for a session
 * cookie (flags, hashed storage), the cookie then stands for the token on the admin API under
 * the same roles, every state-changing call needs the CSRF token and the page's own origin, and
 * the session ends at sign-out, when idle (injected clock), after its lifetime, or when its
 * admin token is revoked.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Gateway } from '../../src/gateway';
import { CONTENT_SECURITY_POLICY } from '../../src/server/ui/ui-router';
import { selfSignedCertificate } from '../helpers/certificates';
import { startTestGateway } from '../helpers/gateway';
import { createPostgresDatabase, describeWith, sharedReplicaEnv } from '../helpers/services';
import { tempDir } from '../helpers/temp-dir';

const IDLE_MINUTES = 30;
const json = (res: Response): Promise<any> => res.json();
const SESSION_HOURS = 8;

describe('web UI sessions', () => {
  let gateway: Gateway;
  let clock = Date.now();
  let owner: string;
  let auditor: string;
  let base: string;

  beforeAll(async () => {
    gateway = await startTestGateway(
      {
        System__Ui__IdleMinutes: String(IDLE_MINUTES),
        System__Ui__SessionHours: String(SESSION_HOURS),
      },
      { now: () => clock },
    );
    base = gateway.urls.http;
    owner = (await gateway.identity.createAdminToken({ name: 'olga', role: 'owner' })).token;
    auditor = (await gateway.identity.createAdminToken({ name: 'audrey', role: 'auditor' })).token;
  });
  afterAll(() => gateway.close());

  interface Signed {
    cookie: string;
    id: string;
    csrf: string;
    setCookie: string;
    body: any;
  }

  async function signIn(token: string): Promise<Signed> {
    const res = await fetch(`${base}/ui/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ token }),
    });
    expect(res.status).toBe(201);
    const setCookie = res.headers.get('set-cookie')!;
    const cookie = setCookie.split(';')[0];
    const body = await json(res);
    return { cookie, id: cookie.split('=')[1], csrf: body.csrfToken, setCookie, body };
  }

  /** A call with the session cookie; `headers` adds (or, with undefined, leaves out) headers. */
  function withCookie(
    s: Signed,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return fetch(`${base}${path}`, {
      method,
      headers: {
        cookie: s.cookie,
        'content-type': 'application/json',
        origin: base,
        'sec-fetch-site': 'same-origin',
        'x-csrf-token': s.csrf,
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  it('serves /ui with a strict CSP, no framing, no referrer and nosniff', async () => {
    for (const path of ['/ui', '/ui/approvals', '/ui/api/session']) {
      const res = await fetch(`${base}${path}`);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
  });

  it('exchanges an admin token for an HttpOnly, SameSite=Strict cookie stored only hashed', async () => {
    const s = await signIn(owner);
    expect(s.setCookie).toMatch(/^vectra_ui_session=[A-Za-z0-9_-]{43}; /);
    expect(s.setCookie).toContain('HttpOnly');
    expect(s.setCookie).toContain('SameSite=Strict');
    expect(s.setCookie).toContain('Path=/');
    expect(s.setCookie).toContain(`Max-Age=${SESSION_HOURS * 3600}`);
    expect(s.setCookie).not.toContain('Secure'); // plain HTTP here; see the HTTPS test
    expect(s.body).toMatchObject({ name: 'olga', role: 'owner', idleMinutes: IDLE_MINUTES });
    expect(JSON.stringify(s.body)).not.toContain(owner);
    const hashed = createHash('sha256').update(s.id).digest('hex');
    expect(await gateway.cache.get(`ui-session:${hashed}`)).not.toBeNull();
    expect(await gateway.cache.get(`ui-session:${s.id}`)).toBeNull();
    expect(await gateway.cache.get(`ui-session:${hashed}`)).not.toContain(s.id);

    const me = await withCookie(s, 'GET', '/ui/api/session');
    expect(me.status).toBe(200);
    expect(await json(me)).toMatchObject({ role: 'owner', csrfToken: s.csrf });
  });

  it('refuses bad tokens, agent tokens and sign-in from another origin', async () => {
    const post = (token: string, origin = base) =>
      fetch(`${base}/ui/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify({ token }),
      });
    const wrong = await post('vec_adm_notarealtokennotarealtokennotarealtoken');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const agent = (await gateway.identity.createAgent({ name: 'ui-agent' })).token;
    expect((await post(agent)).status).toBe(403);
    const cross = await post(owner, 'https://evil.example');
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
  });

  it('lets the cookie call the admin API, with the CSRF token and same origin for changes', async () => {
    const s = await signIn(owner);
    expect((await withCookie(s, 'GET', '/v1/agents')).status).toBe(200);

    const noCsrf = await withCookie(
      s,
      'POST',
      '/v1/agents',
      { name: 'a1' },
      { 'x-csrf-token': '' },
    );
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.headers.get('x-vectra-error')).toBe('VEC_AUTH_FORBIDDEN');
    expect((await json(noCsrf)).message).toMatch(/CSRF/);
    const wrongCsrf = await withCookie(
      s,
      'POST',
      '/v1/agents',
      { name: 'a1' },
      {
        'x-csrf-token': s.csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      },
    );
    expect(wrongCsrf.status).toBe(403);
    const crossOrigin = await withCookie(
      s,
      'POST',
      '/v1/agents',
      { name: 'a1' },
      {
        origin: 'https://evil.example',
      },
    );
    expect(crossOrigin.status).toBe(403);
    const crossSite = await withCookie(
      s,
      'POST',
      '/v1/agents',
      { name: 'a1' },
      {
        'sec-fetch-site': 'cross-site',
      },
    );
    expect(crossSite.status).toBe(403);
    expect((await gateway.identity.listAgents()).map((a) => a.name)).not.toContain('a1');

    const ok = await withCookie(s, 'POST', '/v1/agents', { name: 'a1' });
    expect(ok.status).toBe(201);
    expect((await json(ok)).token).toMatch(/^vec_agt_/);
    // The cookie is an admin's: it cannot act as an agent.
    expect((await withCookie(s, 'GET', '/discover')).status).toBe(403);
  });

  it('keeps Bearer as it was: an Authorization header wins over the cookie', async () => {
    const s = await signIn(owner);
    const res = await withCookie(s, 'GET', '/v1/agents', undefined, {
      authorization: 'Bearer vec_adm_notarealtokennotarealtokennotarealtoken',
    });
    expect(res.status).toBe(401);
    const bearer = await fetch(`${base}/v1/agents`, {
      headers: { authorization: `Bearer ${owner}` },
    });
    expect(bearer.status).toBe(200);
  });

  it("enforces the session's role: an auditor reads but cannot approve or create", async () => {
    const s = await signIn(auditor);
    expect(s.body.role).toBe('auditor');
    expect((await withCookie(s, 'GET', '/v1/approvals')).status).toBe(200);
    const approve = await withCookie(s, 'POST', '/v1/approvals/apr_x/approve', { scope: 'once' });
    expect(approve.status).toBe(403);
    expect((await json(approve)).message).toMatch(/auditor role cannot/);
    const deny = await withCookie(s, 'POST', '/v1/approvals/apr_x/deny', { reason: 'no' });
    expect(deny.status).toBe(403);
    expect((await withCookie(s, 'POST', '/v1/agents', { name: 'a2' })).status).toBe(403);
  });

  it('ends a session left idle, keeps one in use, and ends any after its lifetime', async () => {
    const idle = await signIn(owner);
    const busy = await signIn(owner);
    clock += (IDLE_MINUTES - 1) * 60_000;
    expect((await withCookie(busy, 'GET', '/v1/agents')).status).toBe(200);
    clock += 2 * 60_000;
    const expired = await withCookie(idle, 'GET', '/v1/agents');
    expect(expired.status).toBe(401);
    expect((await json(expired)).message).toMatch(/session ended/);
    expect((await withCookie(busy, 'GET', '/ui/api/session')).status).toBe(200);

    // Busy all along, but past its lifetime.
    for (let spent = 0; spent < SESSION_HOURS * 60; spent += IDLE_MINUTES - 1) {
      clock += (IDLE_MINUTES - 1) * 60_000;
      if ((await withCookie(busy, 'GET', '/ui/api/session')).status !== 200) break;
    }
    expect((await withCookie(busy, 'GET', '/ui/api/session')).status).toBe(401);
  });

  it('signs out: the cookie is cleared and the old one refused; sign-out needs the CSRF token', async () => {
    const s = await signIn(owner);
    const forged = await withCookie(s, 'DELETE', '/ui/api/session', undefined, {
      'x-csrf-token': 'nope',
    });
    expect(forged.status).toBe(403);
    const out = await withCookie(s, 'DELETE', '/ui/api/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^vectra_ui_session=; .*Max-Age=0/);
    expect((await withCookie(s, 'GET', '/v1/agents')).status).toBe(401);
    expect((await withCookie(s, 'GET', '/ui/api/session')).status).toBe(401);
  });

  it('ends the session when its admin token is revoked', async () => {
    const minted = await gateway.identity.createAdminToken({ name: 'temp', role: 'approver' });
    const s = await signIn(minted.token);
    expect((await withCookie(s, 'GET', '/v1/approvals')).status).toBe(200);
    await gateway.identity.revokeAdminToken(minted.item.id);
    const res = await withCookie(s, 'GET', '/v1/approvals');
    expect(res.status).toBe(401);
    expect((await json(res)).message).toMatch(/revoked/);
  });
});

describe('web UI sessions over HTTPS', () => {
  it('sets a Secure, __Host- prefixed cookie', async () => {
    const cert = selfSignedCertificate('localhost');
    const certPath = join(tempDir('vectra-ui-tls-'), 'ui.crt');
    const keyPath = `${certPath}.key`;
    writeFileSync(certPath, cert.certPem);
    writeFileSync(keyPath, cert.keyPem);
    const gateway = await startTestGateway({
      System__Server__Https__Enabled: 'true',
      System__Server__Https__Port: '0',
      System__Server__Https__Certificate__Path: certPath,
      System__Server__Https__Certificate__KeyPath: keyPath,
    });
    try {
      const owner = (await gateway.identity.createAdminToken({ name: 'o', role: 'owner' })).token;
      const body = JSON.stringify({ token: owner });
      const req = request(`${gateway.urls.https}/ui/api/session`, {
        method: 'POST',
        ca: cert.certPem,
        servername: 'localhost',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      });
      const answer = new Promise<IncomingMessage>((resolve, reject) => {
        req.once('response', resolve).once('error', reject);
      });
      req.end(body);
      const res = await answer;
      res.resume();
      expect(res.statusCode).toBe(201);
      const setCookie = String(res.headers['set-cookie']);
      expect(setCookie).toMatch(/^__Host-vectra_ui_session=[A-Za-z0-9_-]{43}; Path=\/; /);
      expect(setCookie).toContain('; Secure');
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Strict');
    } finally {
      await gateway.close();
    }
  });
});

describeWith('postgres', 'redis')('web UI sessions across replicas', () => {
  it('a session opened on one replica works on the other, and sign-out ends it on both', async () => {
    const owner = `vec_adm_${randomBytes(32).toString('base64url')}`;
    const db = await createPostgresDatabase();
    const env = sharedReplicaEnv(db.url, owner);
    const a = await startTestGateway(env);
    const b = await startTestGateway(env);
    try {
      const [urlA, urlB] = [a.urls.http, b.urls.http];
      const signIn = await fetch(`${urlA}/ui/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: urlA },
        body: JSON.stringify({ token: owner }),
      });
      expect(signIn.status).toBe(201);
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
      const { csrfToken } = await json(signIn);
      const on = (url: string, method: string, path: string, body?: unknown) =>
        fetch(`${url}${path}`, {
          method,
          headers: {
            cookie,
            origin: url,
            'x-csrf-token': csrfToken,
            'content-type': 'application/json',
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      expect((await on(urlB, 'GET', '/v1/agents')).status).toBe(200);
      expect((await on(urlB, 'POST', '/v1/agents', { name: 'made-on-b' })).status).toBe(201);
      expect((await on(urlB, 'DELETE', '/ui/api/session')).status).toBe(204);
      expect((await on(urlA, 'GET', '/v1/agents')).status).toBe(401);
    } finally {
      await b.close();
      await a.close();
      await db.drop();
    }
  });
});
