/**
 * The web UI in a real Chromium against a real gateway (the shipped policies, requests held 25
 * s): an approver sees a held POST arrive live and approves it once, and the agent's call
 * completes with the upstream's answer; a denial typed in the page reaches the agent as
 * VEC_APPROVAL_DENIED with its reason; an auditor is offered no decision and a forged call from
 * the page is refused; a cross-site POST is refused; the session cookie has its flags; an agent
 * created and rotated in the page works, and its old token no longer does.
 *
 * With VECTRA_UI_SCREENSHOTS=<directory> the main pages are saved there (docs/images).
 */
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { Gateway } from '../../src/gateway';
import { buildUi, describeWithChromium, launchBrowser } from '../helpers/browser';
import { json, REPO_ROOT, startTestGateway } from '../helpers/gateway';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const SECRET = 'ui-browser-secret-value';
const SCREENSHOTS = process.env.VECTRA_UI_SCREENSHOTS;

jest.setTimeout(90_000);

describeWithChromium()('the web UI in Chromium', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let base: string;
  let owner: string;
  let approver: string;
  let auditor: string;
  let agentToken: string;
  const browsers: BrowserContext[] = [];
  /** What the pages reported that the CSP refused (no inline script or style may be needed). */
  const cspViolations: string[] = [];

  beforeAll(async () => {
    buildUi();
    upstream = await startUpstream([]);
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__Providers__Internal__Directory: join(REPO_ROOT, 'policies'),
      HumanInTheLoop__HoldSeconds: '25',
    });
    base = gateway.urls.http;
    const { vaults, identity } = gateway;
    await vaults.createVault({ name: 'writes' });
    await vaults.setCredential('writes', 'KEY', SECRET);
    await vaults.createService('writes', {
      name: 'local',
      host: `localhost:${upstream.httpPort}`,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'KEY' },
    });
    agentToken = (await identity.createAgent({ name: 'writer-bot', vaults: ['writes'] })).token;
    owner = (await identity.createAdminToken({ name: 'olga', role: 'owner' })).token;
    approver = (await identity.createAdminToken({ name: 'alice', role: 'approver' })).token;
    auditor = (await identity.createAdminToken({ name: 'audrey', role: 'auditor' })).token;
  });

  afterEach(() => {
    expect(cspViolations).toEqual([]);
  });

  afterAll(async () => {
    for (const browser of browsers) await browser.close();
    await gateway?.close();
    await upstream?.close();
  });

  /** The agent's call through the reverse route, as `token`. */
  const call = (path: string, init: RequestInit = {}, token = agentToken) =>
    fetch(`${base}/proxy/${upstream.httpUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });

  /** A fresh browser profile, signed in with `token`, on the approvals page with its stream live. */
  async function signedIn(token: string): Promise<Page> {
    const browser = await launchBrowser();
    browsers.push(browser);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) {
        cspViolations.push(message.text());
      }
    });
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Admin token').fill(token);
    if (SCREENSHOTS && token === owner) await shot(page, 'sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
    await page.getByTestId('connection').getByText('Live').waitFor();
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `ui-${name}.png`) });
  }

  /** The card of the pending approval for `method url`, once it has arrived on the page. */
  async function card(page: Page, method: string, path: string) {
    const article = page.getByRole('article', { name: `${method} ${upstream.httpUrl}${path}` });
    await article.waitFor();
    return article;
  }

  it('an approver sees a held POST arrive live, approves it once, and the call completes', async () => {
    const page = await signedIn(approver);
    await page.getByText('Nothing is waiting').waitFor();
    const held = call('/items', { method: 'POST', body: '{"name":"widget","token":"t0p"}' });

    const item = await card(page, 'POST', '/items');
    await item.getByText('writer-bot').waitFor();
    await item.getByText('"token": "[REDACTED]"').waitFor(); // the body preview
    await item.locator('.explanation', { hasText: /human must approve/ }).waitFor(); // the reason
    await item.getByLabel('Time left').waitFor();
    await shot(page, 'approvals');
    await item.getByRole('button', { name: 'Approve once' }).click();

    const answer = await held;
    expect(answer.status).toBe(200);
    expect(await json(answer)).toMatchObject({ method: 'POST', url: '/items' });
    const posts = upstream.received.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    await item.waitFor({ state: 'detached' });
    const list = await json(
      await fetch(`${base}/v1/approvals?status=used`, {
        headers: { authorization: `Bearer ${owner}` },
      }),
    );
    expect(list.approvals[0]).toMatchObject({ scope: 'once', decidedBy: { name: 'alice' } });
  });

  it('a denial typed in the page (keyboard only) reaches the agent with its reason', async () => {
    const page = await signedIn(approver);
    const held = call('/danger', { method: 'POST', body: '{}' });
    await card(page, 'POST', '/danger');
    await page.keyboard.press('d'); // to the selected approval's reason
    await page.keyboard.type('not on a Friday');
    await page.keyboard.press('Enter');

    const answer = await held;
    expect(answer.status).toBe(403);
    expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_DENIED');
    expect(await json(answer)).toMatchObject({
      code: 'VEC_APPROVAL_DENIED',
      reason: 'not on a Friday',
    });
    expect(upstream.received.filter((r) => r.url === '/danger')).toHaveLength(0);
  });

  it('approves always with the keyboard; the standing approval is listed, then revoked', async () => {
    const page = await signedIn(approver);
    const held = call('/standing', { method: 'POST', body: '{"n":1}' });
    await card(page, 'POST', '/standing');
    await page.keyboard.press('w'); // approve always
    expect((await held).status).toBe(200);
    const row = page.getByRole('row', {
      name: /writer-bot writes POST localhost:\d+\/standing always/,
    });
    await row.waitFor();
    await row.getByText('until revoked').waitFor();

    // Standing: the same call passes at once, without a new approval.
    expect((await call('/standing', { method: 'POST', body: '{"n":2}' })).status).toBe(200);

    await row.getByRole('button', { name: /^Revoke POST .*\/standing for writer-bot$/ }).click();
    await page.getByText('No standing approvals.').waitFor();
    const again = call('/standing', { method: 'POST', body: '{"n":3}' });
    const item = await card(page, 'POST', '/standing'); // held again: a human must decide
    await item.getByLabel('Reason for denying').fill('revoked');
    await item.getByRole('button', { name: 'Deny' }).click();
    expect((await again).status).toBe(403);
  });

  it('an auditor is offered no decision, and a forged call from the page is refused', async () => {
    const page = await signedIn(auditor);
    await page.getByText(/auditor\) can read approvals but not decide/).waitFor();
    const held = call('/audited', { method: 'POST', body: '{}' });
    const item = await card(page, 'POST', '/audited');
    expect(await item.getByRole('button').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Approve|Deny|Revoke/ }).count()).toBe(0);
    const id = await item.getAttribute('data-approval-id');

    const forged = await page.evaluate(async (approvalId) => {
      const approve = (headers: Record<string, string>) =>
        fetch(`/v1/approvals/${approvalId}/approve`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ scope: 'once' }),
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));
      const session: any = await fetch('/ui/api/session').then((res) => res.json());
      return {
        withoutCsrf: await approve({}),
        withCsrf: await approve({ 'x-csrf-token': session.csrfToken }),
      };
    }, id);
    expect(forged.withoutCsrf.status).toBe(403);
    expect(forged.withoutCsrf.body.message).toMatch(/CSRF/);
    expect(forged.withCsrf.status).toBe(403);
    expect(forged.withCsrf.body.message).toMatch(/auditor role cannot/);

    // Let the held call go: denied by a real approver over the API.
    await fetch(`${base}/v1/approvals/${id}/deny`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'cleanup' }),
    });
    expect((await held).status).toBe(403);
  });

  it('keeps the session in an HttpOnly, SameSite=Strict cookie, and nothing in storage', async () => {
    const page = await signedIn(approver);
    const cookies = await page.context().cookies(base);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: 'vectra_ui_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: false, // plain HTTP here; over HTTPS it is Secure (ui-session.test.ts)
    });
    const seen = await page.evaluate(() => {
      const window = globalThis as any; // the page's, typed loosely: the tests compile without DOM
      return {
        cookie: String(window.document.cookie),
        local: JSON.stringify({ ...window.localStorage }),
        session: JSON.stringify({ ...window.sessionStorage }),
      };
    });
    expect(seen.cookie).toBe('');
    expect(seen.local).not.toContain('vec_');
    expect(seen.session).not.toContain('vec_');
    expect(JSON.stringify(seen)).not.toContain(approver);
  });

  it('returns to sign-in when the session ends: its admin token revoked', async () => {
    const temp = await gateway.identity.createAdminToken({ name: 'temp', role: 'approver' });
    const page = await signedIn(temp.token);
    await gateway.identity.revokeAdminToken(temp.item.id);
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByText('Your session ended; sign in again.').waitFor();
    await page.getByLabel('Admin token').waitFor();
  });

  it('refuses a cross-site POST made with the signed-in browser', async () => {
    const page = await signedIn(owner);
    // Another site (the upstream at localhost; the gateway is 127.0.0.1) posts to the gateway.
    expect(new URL(upstream.httpUrl).hostname).toBe('localhost');
    await page.goto(`${upstream.httpUrl}/elsewhere`);
    const sent = await page.evaluate(async (target) => {
      const window = globalThis as any;
      await fetch(`${target}/v1/agents`, {
        method: 'POST',
        mode: 'no-cors',
        credentials: 'include',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ name: 'forged-fetch' }),
      });
      const form = window.document.createElement('form');
      form.method = 'POST';
      form.action = `${target}/v1/agents`;
      form.enctype = 'text/plain';
      const field = window.document.createElement('input');
      field.name = '{"name":"forged-form","x":"';
      field.value = '"}';
      form.appendChild(field);
      window.document.body.appendChild(form);
      form.submit();
      return 'sent';
    }, base);
    expect(sent).toBe('sent');
    await page.waitForURL(`${base}/v1/agents`);
    // SameSite=Strict: the cookie stayed behind, so the gateway saw no session at all.
    expect(await page.textContent('body')).toContain('VEC_AUTH_REQUIRED');
    const agents = await json(
      await fetch(`${base}/v1/agents`, { headers: { authorization: `Bearer ${owner}` } }),
    );
    const names = agents.agents.map((a: { name: string }) => a.name);
    expect(names).not.toContain('forged-fetch');
    expect(names).not.toContain('forged-form');
  });

  it('creates an agent whose token works through the proxy; rotating it retires the old one', async () => {
    const page = await signedIn(owner);
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    await page.getByLabel('Name').fill('ui-bot');
    await page.getByRole('checkbox', { name: 'writes' }).check();
    await page.getByRole('button', { name: 'Create agent' }).click();
    const shown = page.getByTestId('agent-token');
    await shown.waitFor();
    const first = (await shown.textContent())!;
    expect(first).toMatch(/^vec_agt_/);
    await page.getByText(`VECTRA_TOKEN=${first}`).waitFor();
    await page.getByText(`AGENT_VAULT_TOKEN=${first}`).waitFor();
    await shot(page, 'agents');

    const through = await call('/items', {}, first);
    expect(through.status).toBe(200);
    expect(upstream.received.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);

    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByRole('button', { name: "Rotate ui-bot's token" }).click();
    await page.getByRole('button', { name: 'Confirm rotate' }).click();
    await page.getByText('Token for ui-bot (rotated)').waitFor();
    const second = (await shown.textContent())!;
    expect(second).toMatch(/^vec_agt_/);
    expect(second).not.toBe(first);

    const old = await call('/items', {}, first);
    expect(old.status).toBe(401);
    expect(old.headers.get('x-vectra-error')).toBe('VEC_AUTH_TOKEN_REJECTED');
    expect((await call('/items', {}, second)).status).toBe(200);
  });

  it('shows the shipped policies in force, with their rules, to an auditor', async () => {
    const page = await signedIn(auditor);
    await page.getByRole('link', { name: 'Policies' }).click();
    const policy = page.getByRole('article', { name: /read-only-by-default/ });
    await policy.waitFor();
    await policy.getByText('read-only-by-default.json').waitFor();
    await policy
      .getByText(/need a human's approval/)
      .first()
      .waitFor();
    expect(await page.getByRole('article').count()).toBe(3); // the three files in policies/
  });

  it('sets a credential (never shown again) and adds a service; the tester finds it', async () => {
    const page = await signedIn(owner);
    await page.getByRole('link', { name: 'Vaults' }).click();
    await page.getByLabel('New vault').fill('staging');
    await page.getByRole('button', { name: 'Create vault' }).click();
    await page.getByRole('heading', { name: 'Credentials' }).waitFor();
    await page.getByLabel('Key', { exact: true }).fill('STAGING_KEY');
    await page.getByLabel('Value', { exact: true }).fill('planted-staging-secret');
    await page.getByRole('button', { name: 'Set credential' }).click();
    await page.getByRole('rowheader', { name: 'STAGING_KEY' }).waitFor();
    expect(await page.content()).not.toContain('planted-staging-secret');

    await page.getByLabel('Name', { exact: true }).fill('stage-api');
    await page.getByLabel('Host pattern').fill('api.staging.example');
    await page.getByLabel('Credential sent as').selectOption('api-key');
    await page.getByLabel('Header').fill('X-Api-Key');
    await page.getByLabel('Credential', { exact: true }).selectOption('STAGING_KEY');
    await page.getByRole('button', { name: 'Add service' }).click();
    await page.getByRole('rowheader', { name: 'stage-api' }).waitFor();
    const services = await gateway.vaults.listServices('staging');
    expect(services[0]).toMatchObject({
      name: 'stage-api',
      host: 'api.staging.example',
      auth: { type: 'api-key', header: 'X-Api-Key', credential: 'STAGING_KEY' },
    });

    await gateway.identity.grantVault('writer-bot', 'staging');
    await page.reload();
    await page.getByLabel('Vault', { exact: true }).selectOption('staging');
    await page
      .getByRole('textbox', { name: 'URL', exact: true })
      .fill('https://api.staging.example/things');
    await page.getByRole('button', { name: 'Evaluate' }).click();
    const result = page.getByTestId('dry-run-result');
    await result.getByText('stage-api', { exact: true }).waitFor(); // the service it matched
    expect(await result.locator('dd strong').textContent()).toBe('Allow'); // a GET, read-only

    if (SCREENSHOTS) {
      for (const name of ['Vaults', 'Activity', 'Policies']) {
        await page.getByRole('link', { name }).click();
        await page.getByRole('heading', { name, level: 1 }).waitFor();
        if (name === 'Vaults')
          await page.getByLabel('Vault', { exact: true }).selectOption('writes');
        if (name === 'Activity') {
          await page.getByLabel('Vault', { exact: true }).selectOption('writes');
          await page.getByRole('cell', { name: 'writer-bot' }).first().waitFor();
        }
        if (name === 'Policies') {
          await page.getByLabel('Vault').selectOption('writes');
          await page.getByLabel('Method').selectOption('POST');
          await page
            .getByRole('textbox', { name: 'URL', exact: true })
            .fill(`${upstream.httpUrl}/items`);
          await page.getByRole('button', { name: 'Evaluate' }).click();
          await page.getByTestId('dry-run-result').waitFor();
        }
        await shot(page, name.toLowerCase());
      }
    }
  });
});
