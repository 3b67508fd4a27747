/**
 * The web UI attacked, through a real gateway (the shipped policies, writes held for a human):
 * by a malicious agent whose request contents reach the approver's page (stored XSS, bidi
 * overrides that disguise what is approved), and by another origin in the approver's browser
 * (CSRF, CORS, framing). Also: a live stream stops serving a session that ended.
 */
import { writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Gateway } from '../../src/gateway';
import { CONTENT_SECURITY_POLICY } from '../../src/server/ui/ui-router';
import { buildUi, describeWithChromium, launchBrowser } from '../helpers/browser';
import { selfSignedCertificate } from '../helpers/certificates';
import { json, REPO_ROOT, startTestGateway } from '../helpers/gateway';
import { tempDir } from '../helpers/temp-dir';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

jest.setTimeout(90_000);

let upstream: TestUpstream;
let gateway: Gateway;
let base: string;
let owner: string;
let approver: string;
let agentToken: string;

beforeAll(async () => {
  upstream = await startUpstream([]);
  gateway = await startTestGateway({
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
    HumanInTheLoop__HoldSeconds: '25',
  });
  base = gateway.urls.http;
  await gateway.vaults.createVault({ name: 'writes' });
  await gateway.vaults.createService('writes', {
    name: 'local',
    host: `localhost:${upstream.httpPort}`,
    scheme: 'http',
    auth: { type: 'passthrough' },
  });
  agentToken = (await gateway.identity.createAgent({ name: 'evil-bot', vaults: ['writes'] })).token;
  owner = (await gateway.identity.createAdminToken({ name: 'olga', role: 'owner' })).token;
  approver = (await gateway.identity.createAdminToken({ name: 'alice', role: 'approver' })).token;
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

/** The agent's call through the reverse route. */
const call = (path: string, init: RequestInit = {}, contentType = 'application/json') =>
  fetch(`${base}/proxy/${upstream.httpUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${agentToken}`, 'content-type': contentType },
  });

/** The pending approval for `path` once the agent's call is held (over the admin API). */
async function pendingFor(path: string): Promise<{ id: string; [k: string]: any }> {
  for (;;) {
    const list = await json(
      await fetch(`${base}/v1/approvals?status=pending`, {
        headers: { authorization: `Bearer ${owner}` },
      }),
    );
    const found = list.approvals.find((a: { path: string }) => a.path === path);
    if (found) return found;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const deny = (id: string) =>
  fetch(`${base}/v1/approvals/${id}/deny`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'test cleanup' }),
  });

async function signIn(token: string) {
  const res = await fetch(`${base}/ui/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(201);
  const cookie = res.headers.get('set-cookie')!.split(';')[0];
  return { cookie, csrf: (await json(res)).csrfToken as string };
}

describe('the web UI against another origin', () => {
  it('sends no CORS header on the admin API, the UI API or the streams, preflight included', async () => {
    const s = await signIn(owner);
    const evil = 'https://evil.example';
    const probes: Array<[string, string, Record<string, string>]> = [
      ['GET', '/v1/agents', { cookie: s.cookie }],
      ['GET', '/ui/api/session', { cookie: s.cookie }],
      ['OPTIONS', '/v1/agents', { 'access-control-request-method': 'POST' }],
      ['OPTIONS', '/ui/api/session', { 'access-control-request-method': 'POST' }],
      ['OPTIONS', '/v1/approvals/apr_x/approve', { 'access-control-request-method': 'POST' }],
    ];
    for (const [method, path, headers] of probes) {
      const res = await fetch(`${base}${path}`, { method, headers: { origin: evil, ...headers } });
      await res.arrayBuffer();
      const cors = [...res.headers.keys()].filter((name) => name.startsWith('access-control-'));
      expect({ path, method, cors }).toEqual({ path, method, cors: [] });
    }
    // The approvals stream, read with the cookie from another origin: no CORS header either.
    const stream = await openStream('/v1/approvals/events', { cookie: s.cookie, origin: evil });
    expect(stream.res.headers['access-control-allow-origin']).toBeUndefined();
    stream.res.destroy();
  });

  it('refuses an approval with the cookie but without the CSRF token or from another origin', async () => {
    const s = await signIn(approver);
    const held = call('/csrf', { method: 'POST', body: '{}' });
    const { id } = await pendingFor('/csrf');
    const approve = (headers: Record<string, string>) =>
      fetch(`${base}/v1/approvals/${id}/approve`, {
        method: 'POST',
        headers: { cookie: s.cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ scope: 'always' }),
      });
    const refused = [
      await approve({ origin: base }), // no token
      await approve({ origin: base, 'x-csrf-token': `${s.csrf}x` }), // wrong length
      await approve({ origin: 'null', 'x-csrf-token': s.csrf }), // sandboxed frame
      await approve({ origin: `${base}.evil.example`, 'x-csrf-token': s.csrf }),
      await approve({ 'sec-fetch-site': 'same-site', 'x-csrf-token': s.csrf }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
    expect((await pendingFor('/csrf')).id).toBe(id); // still pending
    await deny(id);
    expect((await held).status).toBe(403);
  });

  it('signs in with a fresh session id whatever cookie the browser already had', async () => {
    const planted = 'A'.repeat(43);
    const res = await fetch(`${base}/ui/api/session`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: base,
        cookie: `vectra_ui_session=${planted}`,
      },
      body: JSON.stringify({ token: approver }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('set-cookie')).not.toContain(planted);
  });

  it('serves the documented CSP and no framing on every /ui answer, and no-store on its API', async () => {
    for (const path of ['/ui/', '/ui/approvals', '/ui/api/session', '/ui/api/nope']) {
      const res = await fetch(`${base}${path}`);
      await res.arrayBuffer();
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-|\*|data:.*script|http:/);
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    const s = await signIn(approver);
    const me = await fetch(`${base}/ui/api/session`, { headers: { cookie: s.cookie } });
    expect(me.headers.get('cache-control')).toBe('no-store');
  });

  it('answers the admin API nosniff: agent text in JSON is never read as a page', async () => {
    const held = call('/sniff', { method: 'POST', body: '<html><script>alert(1)</script>' });
    const { id } = await pendingFor('/sniff');
    for (const path of [`/v1/approvals/${id}`, '/v1/agents', '/v1/nope']) {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${owner}` } });
      await res.arrayBuffer();
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    await deny(id);
    await held;
  });
});

describe('the web UI over HTTPS', () => {
  it('accepts only the __Host- cookie: a plain one planted over HTTP is no session', async () => {
    const cert = selfSignedCertificate('localhost');
    const certPath = join(tempDir('vectra-ui-attack-tls-'), 'ui.crt');
    writeFileSync(certPath, cert.certPem);
    writeFileSync(`${certPath}.key`, cert.keyPem);
    const secure = await startTestGateway({
      System__Server__Https__Enabled: 'true',
      System__Server__Https__Port: '0',
      System__Server__Https__Certificate__Path: certPath,
      System__Server__Https__Certificate__KeyPath: `${certPath}.key`,
    });
    const send = (method: string, path: string, headers: Record<string, string>, body = '') =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpsRequest(`${secure.urls.https}${path}`, {
          method,
          ca: cert.certPem,
          servername: 'localhost',
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        });
        req.once('response', (res) => resolve(res.resume())).once('error', reject);
        req.end(body);
      });
    try {
      const token = (await secure.identity.createAdminToken({ name: 'o', role: 'owner' })).token;
      const signed = await send(
        'POST',
        '/ui/api/session',
        { 'content-type': 'application/json' },
        JSON.stringify({ token }),
      );
      expect(signed.statusCode).toBe(201);
      const id = /^__Host-vectra_ui_session=([^;]+)/.exec(String(signed.headers['set-cookie']))![1];
      const asHost = await send('GET', '/ui/api/session', {
        cookie: `__Host-vectra_ui_session=${id}`,
      });
      expect(asHost.statusCode).toBe(200);
      const asPlain = await send('GET', '/ui/api/session', { cookie: `vectra_ui_session=${id}` });
      expect(asPlain.statusCode).toBe(401);
    } finally {
      await secure.close();
    }
  });
});

/** A GET of an event stream with `headers`; resolves once the head arrived. */
function openStream(
  path: string,
  headers: Record<string, string>,
): Promise<{
  res: IncomingMessage;
  text: () => string;
  ended: Promise<void>;
  endsOrShows: (needle: string) => Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers });
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => res.once('close', done));
      /** Resolves when the stream ended or `needle` arrived on it, whichever comes first. */
      const endsOrShows = (needle: string) =>
        Promise.race([
          ended,
          new Promise<void>((done) => {
            const check = () => (text.includes(needle) ? done() : undefined);
            res.on('data', check);
            check();
          }),
        ]);
      resolve({ res, text: () => text, ended, endsOrShows });
    });
    req.end();
  });
}

describe('a live stream of an ended session', () => {
  it('ends once the admin token behind it is revoked, before the next event is sent', async () => {
    const temp = await gateway.identity.createAdminToken({ name: 'leaver', role: 'approver' });
    const s = await signIn(temp.token);
    const stream = await openStream('/v1/approvals/events', { cookie: s.cookie });
    expect(stream.res.statusCode).toBe(200);
    await gateway.identity.revokeAdminToken(temp.item.id);

    const held = call('/after-revoke', { method: 'POST', body: '{"secret-ish":"x"}' });
    const { id } = await pendingFor('/after-revoke');
    await stream.endsOrShows('/after-revoke');
    expect(stream.text()).not.toContain('/after-revoke');
    await stream.ended;
    await deny(id);
    await held;
  });

  it('ends after sign-out, and a Bearer stream ends when its token is revoked', async () => {
    const s = await signIn(approver);
    const cookieStream = await openStream('/v1/approvals/events', { cookie: s.cookie });
    const out = await fetch(`${base}/ui/api/session`, {
      method: 'DELETE',
      headers: { cookie: s.cookie, origin: base, 'x-csrf-token': s.csrf },
    });
    expect(out.status).toBe(204);
    const temp = await gateway.identity.createAdminToken({ name: 'cli', role: 'auditor' });
    const bearerStream = await openStream('/v1/approvals/events', {
      authorization: `Bearer ${temp.token}`,
    });
    await gateway.identity.revokeAdminToken(temp.item.id);

    const held = call('/after-sign-out', { method: 'POST', body: '{}' });
    const { id } = await pendingFor('/after-sign-out');
    await Promise.all([
      cookieStream.endsOrShows('/after-sign-out'),
      bearerStream.endsOrShows('/after-sign-out'),
    ]);
    expect(cookieStream.text()).not.toContain('/after-sign-out');
    expect(bearerStream.text()).not.toContain('/after-sign-out');
    await Promise.all([cookieStream.ended, bearerStream.ended]);
    await deny(id);
    await held;
  });

  it('keeps serving a live session', async () => {
    const s = await signIn(approver);
    const stream = await openStream('/v1/approvals/events', { cookie: s.cookie });
    const held = call('/still-live', { method: 'POST', body: '{}' });
    const { id } = await pendingFor('/still-live');
    await stream.endsOrShows('/still-live');
    expect(stream.text()).toContain('/still-live');
    stream.res.destroy();
    await deny(id);
    await held;
  });
});

/** Characters that reorder or hide text: none may reach the page as they are. */
const INVISIBLE = /[\u061C\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/;

describeWithChromium()('an agent attacking the approver page in Chromium', () => {
  let page: Page;
  let dialogs: string[];

  beforeAll(async () => {
    buildUi();
    const browser = await launchBrowser();
    page = browser.pages()[0] ?? (await browser.newPage());
    dialogs = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token').fill(approver);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('connection').getByText('Live').waitFor();
  });

  afterAll(async () => {
    await page?.context().close();
  });

  it('shows markup from the URL, body and content type as text; no script runs', async () => {
    const payloads = [
      '<script>window.__pwned=1</script>',
      '<img src=x onerror="window.__pwned=2;alert(2)">',
      '<svg onload="window.__pwned=3"></svg>',
      'javascript:window.__pwned=4',
      '"><iframe srcdoc="<script>parent.__pwned=5</script>">',
    ];
    const body = JSON.stringify({ note: payloads.join(' ') });
    const query = `?q=${encodeURIComponent('<script>window.__pwned=6</script>')}`;
    const held = call(`/xss${query}`, { method: 'POST', body }, 'text/html');
    const { id } = await pendingFor('/xss');
    const card = page.locator(`[data-approval-id="${id}"]`);
    await card.waitFor();
    await card.locator('.body-preview', { hasText: '<script>window.__pwned=1</script>' }).waitFor();
    expect(await card.locator('script, img, svg, iframe, a[href^="javascript"]').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    await deny(id);
    await held;
  });

  it('makes bidi overrides and invisible characters in the body and URL visible', async () => {
    // Shown as is, U+202E would display the million backwards, as `0000001`.
    const body = JSON.stringify({ to: 'mallory', amount: '\u202E1000000\u202C', x: 'a\u200Bb' });
    const held = call('/bidi', { method: 'POST', body });
    const { id } = await pendingFor('/bidi');
    const card = page.locator(`[data-approval-id="${id}"]`);
    await card.waitFor();
    const preview = (await card.locator('.body-preview').textContent())!;
    expect(preview).toContain('mallory');
    expect(preview).not.toMatch(INVISIBLE);
    expect(preview).toContain('U+202E');
    const heading = (await card.locator('h3').textContent())!;
    expect(heading).not.toMatch(INVISIBLE);
    expect(heading).toContain(`POST ${upstream.httpUrl}/bidi`);
    await deny(id);
    await held;
  });

  it('shows a bidi override sent raw in the path percent-encoded, never as the character', async () => {
    const path = '/pay/\u202Etxt.exe';
    const held = call(encodeURI(path), { method: 'POST', body: '{}' });
    const { id, url } = await pendingFor('/pay/%E2%80%AEtxt.exe');
    expect(url).toBe(`${upstream.httpUrl}/pay/%E2%80%AEtxt.exe`);
    const heading = page.locator(`[data-approval-id="${id}"] h3`);
    await heading.waitFor();
    expect(await heading.textContent()).not.toMatch(INVISIBLE);
    await deny(id);
    await held;
  });
});
