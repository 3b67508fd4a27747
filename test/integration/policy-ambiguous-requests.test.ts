/**
 * Requests that servers read differently are judged as each of them reads them, through the real
 * forward proxy with a credential to inject. A repeated query parameter (`?action=read&action=
 * delete`: Express keeps both, PHP and Rack the last, Flask and Go's Get the first) and a
 * bracketed one (`action[]=delete`, which PHP, Rails and Express's qs parser file under
 * `action`) are judged as every value, as the first and as the last; a path whose segments carry
 * `;parameters` (`/admin;x=1/users`, which Tomcat, Jetty and Spring route as `/admin/users`) also
 * without them; and a JSON body with a repeated key (`{"action":"drop","action":"read"}`, the
 * first value to some parsers, the last to others) cannot be judged. The strictest view wins;
 * whatever is refused never reaches the upstream, and requests no view disagrees on pass as sent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';
import { policyDocument, rule, when } from '../helpers/policy-documents';
import { basicProxyAuth, rawConnect, type RawResponse } from '../helpers/raw-http';
import { tempDir } from '../helpers/temp-dir';

const SECRET = 'sk_test_ambiguous_4f1c2e9a';

const POLICIES = [
  policyDocument(
    'guarded',
    'Allow',
    [
      rule('no-admin', 'Deny', 'No admin paths', [when('request.path', 'glob', '/admin/**')]),
      rule('no-delete', 'Deny', 'No deletes', [when('query.action', 'eq', 'delete')]),
      rule('only-known-modes', 'Deny', 'Unknown mode', [
        when('query.mode', 'exists'),
        when('query.mode', 'notIn', ['safe', 'dry']),
      ]),
      rule('no-drop', 'Deny', 'No drops', [when('body.action', 'eq', 'drop')]),
    ],
    { appliesTo: { agents: 'guarded' } },
  ),
  policyDocument(
    'reads-only',
    'Deny',
    [rule('reads', 'Allow', 'Reads are fine', [when('query.action', 'eq', 'read')])],
    { appliesTo: { agents: 'reader' } },
  ),
];

describe('requests that servers read differently, through the forward proxy', () => {
  const received: Array<{ url: string; body: string; authorization?: string }> = [];
  const upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  let gateway: Gateway;
  let origin: string;
  let proxyPort: number;
  const auth: Record<string, string> = {};

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    origin = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const dir = tempDir('vectra-ambiguous-');
    POLICIES.forEach((p, i) => writeFileSync(join(dir, `p${i}.json`), JSON.stringify(p)));
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__Providers__Internal__Directory: dir,
    });
    const vaults = gateway.vaults;
    await vaults.createVault({ name: 'amb', unmatchedHosts: 'deny' });
    await vaults.setCredential('amb', 'API_KEY', SECRET);
    await vaults.createService('amb', {
      name: 'api',
      host: origin,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    for (const name of ['guarded', 'reader']) {
      const { token } = await gateway.identity.createAgent({ name, vaults: ['amb'] });
      auth[name] = basicProxyAuth(token, 'amb');
    }
    proxyPort = Number(new URL(gateway.urls.proxy!).port);
  });

  afterAll(async () => {
    await gateway?.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
  });

  async function send(
    agent: string,
    target: string,
    body?: { json: string },
  ): Promise<RawResponse> {
    const connection = await rawConnect(proxyPort);
    try {
      const head =
        `${body ? 'POST' : 'GET'} http://${origin}${target} HTTP/1.1\r\nHost: ${origin}\r\n` +
        `Proxy-Authorization: ${auth[agent]}\r\n`;
      const text = body
        ? `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body.json)}\r\n\r\n${body.json}`
        : `${head}\r\n`;
      return await connection.request(text);
    } finally {
      connection.close();
    }
  }

  function expectRefused(res: RawResponse, code: string, status: number): void {
    expect({ status: res.status, code: res.headers['x-vectra-error'] }).toEqual({ status, code });
    expect(received).toHaveLength(0);
  }

  function expectForwarded(res: RawResponse, target: string, body = ''): void {
    expect(res.status).toBe(200);
    expect(received).toEqual([{ url: target, body, authorization: `Bearer ${SECRET}` }]);
  }

  it.each([
    [
      'a repeated parameter whose last value an Allow rule does not allow',
      '/x?action=read&action=delete',
    ],
    [
      'a repeated parameter whose first value an Allow rule does not allow',
      '/x?action=delete&action=read',
    ],
    ['a bracketed parameter', '/x?action[]=read&action[]=delete'],
  ])('an Allow rule on a query parameter refuses %s', async (_, target) => {
    expectRefused(await send('reader', target), 'VEC_POLICY_DENIED', 403);
  });

  it.each([
    ['a bracketed copy', '/x?action[]=delete'],
    ['a percent-encoded bracketed copy', '/x?action%5B%5D=delete'],
    ['an indexed copy', '/x?action[0]=delete'],
    ['a notIn rule, with an allowed first value', '/x?mode=safe&mode=wipe'],
    ['a notIn rule, with an allowed last value', '/x?mode=wipe&mode=dry'],
  ])('a Deny rule on a query parameter holds on %s', async (_, target) => {
    expectRefused(await send('guarded', target), 'VEC_POLICY_DENIED', 403);
  });

  it.each([['/admin;x=1/users'], ['/admin;/users'], ['/admin/;x/users']])(
    'a Deny rule on the path holds when its segments carry ;parameters: %s',
    async (target) => {
      expectRefused(await send('guarded', target), 'VEC_POLICY_DENIED', 403);
    },
  );

  it.each([
    ['the refused value last', '{"action":"read","action":"drop"}'],
    ['the refused value first', '{"action":"drop","action":"read"}'],
    ['the key spelt with an escape', '{"action":"drop","\\u0061ction":"read"}'],
    ['in a nested object', '{"items":[{"action":"drop","action":"read"}]}'],
  ])('a JSON body with a repeated key is refused as unjudgeable: %s', async (_, json) => {
    const res = await send('guarded', '/x', { json });
    expectRefused(res, 'VEC_POLICY_BODY_UNREADABLE', 400);
    expect(JSON.parse(res.body).message).toMatch(/repeats a key/);
  });

  it('requests every view agrees on pass as sent, with the credential', async () => {
    for (const target of [
      '/x?action=read&action=read',
      '/x?ids=1&ids=2&mode=safe',
      '/x?tags[]=a&tags[]=b',
      '/items;v=2/list?mode=dry',
    ]) {
      received.length = 0;
      expectForwarded(await send('guarded', target), target);
    }
    received.length = 0;
    expectForwarded(
      await send('reader', '/x?action=read&action=read'),
      '/x?action=read&action=read',
    );
    const json = '{"action":"read","items":[{"action":"a"},{"action":"b"}],"o":{"action":1}}';
    received.length = 0;
    expectForwarded(await send('guarded', '/x', { json }), '/x', json);
  });
});
