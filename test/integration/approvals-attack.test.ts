/**
 * The approval workflow attacked as a malicious agent would, through the real gateway under the
 * shipped policies (every write needs a human): an approval must let through only the request a
 * human saw, whatever the encoding, framing, connection or agent it comes back on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayOptions } from '../../src/gateway';
import type { Logger } from '../../src/observability/types';
import { approvalGateways, approve, type ApprovalGateway } from '../helpers/approvals';
import { json } from '../helpers/gateway';
import { basicProxyAuth, rawConnect, type RawResponse } from '../helpers/raw-http';
import { tempDir } from '../helpers/temp-dir';

const SECRET = 'approval-attack-vault-secret';

interface Setup extends ApprovalGateway {
  proxyPort: number;
  host: string;
  auth: string;
  approve(id: string, body?: unknown): Promise<unknown>;
}

function approvalIdOf(answer: RawResponse): string {
  return (JSON.parse(answer.body) as { approvalId: string }).approvalId;
}

describe('approvals under attack', () => {
  const { upstream, start } = approvalGateways({ secret: SECRET, agent: 'bot' });

  async function setUp(env: NodeJS.ProcessEnv = {}, options: GatewayOptions = {}): Promise<Setup> {
    const s = await start(env, { gateway: options });
    return {
      ...s,
      proxyPort: Number(new URL(s.gateway.urls.proxy).port),
      host: `localhost:${upstream.httpPort}`,
      auth: basicProxyAuth(s.agentToken, 'writes'),
      approve: (id, body) => approve(s, id, body),
    };
  }

  const posts = () => upstream.received.filter((r) => r.method !== 'GET');

  it('a session path glob does not cover a path that decoding %2F routes elsewhere', async () => {
    const s = await setUp();
    const id = (await json(await s.call('/repos/a/issues', { method: 'POST', body: '{}' })))
      .approvalId;
    await s.approve(id, { scope: 'session', minutes: 30, pathPattern: '/repos/*/issues' });
    expect((await s.call('/repos/b/issues', { method: 'POST', body: '{}' })).status).toBe(200);
    expect((await s.call('/repos/b;v=1/issues', { method: 'POST', body: '{}' })).status).toBe(200);
    // `*` matches `a%2F..%2F..%2Fadmin`, but a server that decodes %2F routes this to /admin/issues.
    for (const path of ['/repos/a%2F..%2F..%2Fadmin/issues', '/repos/a%5C..%5C..%5Cadmin/issues']) {
      const answer = await s.call(path, { method: 'POST', body: '{}' });
      expect(answer.status).toBe(403);
      expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    }
    expect(posts().map((r) => r.url)).toEqual(['/repos/b/issues', '/repos/b;v=1/issues']);
  });

  it('an approval does not carry a method override or another content type it was not asked for', async () => {
    const s = await setUp();
    const body = '{"title":"hello"}';
    const id = (await json(await s.call('/repos/a/issues', { method: 'POST', body }))).approvalId;
    await s.approve(id);
    for (const headers of <Record<string, string>[]>[
      { 'x-http-method-override': 'DELETE' },
      { 'X-HTTP-Method': 'delete' },
      { 'x-method-override': 'PUT' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-encoding': 'gzip' },
    ]) {
      const answer = await s.call('/repos/a/issues', { method: 'POST', body, headers });
      expect(answer.status).toBe(403);
      expect((await json(answer)).approvalId).not.toBe(id);
    }
    expect(posts()).toHaveLength(0);
    expect((await s.call('/repos/a/issues', { method: 'POST', body })).status).toBe(200);

    // A standing approval for POST does not stand for the DELETE an override asks for.
    const standing = (await json(await s.call('/repos/a/labels', { method: 'POST', body })))
      .approvalId;
    await s.approve(standing, { scope: 'always', pathPattern: '/repos/*/labels' });
    const overridden = await s.call('/repos/b/labels', {
      method: 'POST',
      body,
      headers: { 'x-http-method-override': 'DELETE' },
    });
    expect(overridden.status).toBe(403);
    expect(overridden.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    expect((await s.call('/repos/b/labels', { method: 'POST', body })).status).toBe(200);
    expect(posts().map((r) => [r.url, r.headers['x-http-method-override']])).toEqual([
      ['/repos/a/issues', undefined],
      ['/repos/b/labels', undefined],
    ]);
  });

  it('a read that asks for a write through a method override needs a human too', async () => {
    const s = await setUp();
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      const answer = await s.call('/repos/a', { headers: { [name]: 'DELETE' } });
      expect(answer.status).toBe(403);
      expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
      expect((await json(answer)).message).toMatch(/judged as a DELETE/);
    }
    expect(
      (await s.call('/repos/a', { headers: { 'x-http-method-override': 'GET' } })).status,
    ).toBe(200);
    expect(upstream.received.map((r) => r.headers['x-http-method-override'])).toEqual(['GET']);
  });

  it('a once approval lets one request through: not a pipelined twin, not racing retries, not another agent', async () => {
    const s = await setUp();
    const proxied = (path: string, body: string, framing: 'length' | 'chunked' = 'length') =>
      `POST http://${s.host}${path} HTTP/1.1\r\nHost: ${s.host}\r\nProxy-Authorization: ${s.auth}\r\n` +
      `Content-Type: application/json\r\n` +
      (framing === 'length'
        ? `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
        : `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);

    // Approved with Content-Length; the same bytes chunked pass, a second request pipelined
    // behind them on the same connection (another body) asks anew.
    const connection = await rawConnect(s.proxyPort);
    const first = await connection.request(proxied('/p', '{"a":1}'));
    expect(first.status).toBe(403);
    await s.approve(approvalIdOf(first));
    connection.socket.write(proxied('/p', '{"a":1}', 'chunked') + proxied('/p', '{"a":2}'));
    expect((await connection.readResponse()).status).toBe(200);
    const twin = await connection.readResponse();
    expect(twin.status).toBe(403);
    expect(approvalIdOf(twin)).not.toBe(approvalIdOf(first));
    connection.socket.destroy();

    // Eight identical retries at once: one goes upstream.
    const id = (await json(await s.call('/race', { method: 'POST', body: '{}' }))).approvalId;
    await s.approve(id);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => s.call('/race', { method: 'POST', body: '{}' })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array(7).fill(403)]);

    // Another agent of the same vault cannot use it, even naming it.
    const mine = (await json(await s.call('/mine', { method: 'POST', body: '{}' }))).approvalId;
    await s.approve(mine);
    const other = (await s.gateway.identity.createAgent({ name: 'other', vaults: ['writes'] }))
      .token;
    const theirs = await s.call(
      '/mine',
      { method: 'POST', body: '{}', headers: { 'x-vectra-approval': mine } },
      other,
    );
    expect(theirs.status).toBe(403);
    expect((await json(theirs)).approvalId).not.toBe(mine);
    expect(posts().map((r) => [r.url, r.body])).toEqual([
      ['/p', '{"a":1}'],
      ['/race', '{}'],
    ]);
    expect((await s.call('/mine', { method: 'POST', body: '{}' })).status).toBe(200);
  });

  it('approvals, their audit rows and logs hold no credential: vault, token, headers, query, body', async () => {
    const dir = tempDir('vectra-approval-leaks-');
    const file = join(dir, 'vectra.db');
    const lines: string[] = [];
    const capture = { child: () => capture } as unknown as Logger & Record<string, unknown>;
    for (const level of ['critical', 'error', 'warn', 'info', 'debug', 'trace']) {
      capture[level] = (message: string, meta?: unknown) =>
        lines.push(`${message} ${JSON.stringify(meta ?? {})}`);
    }
    const s = await setUp(
      {
        System__Storage__DataDirectory: dir,
        System__Storage__Database__Providers__Sqlite__ConnectionString: `Data Source=${file}`,
      },
      { logger: capture },
    );
    const planted = ['PlantedQuery1', 'PlantedForm2', 'PlantedHeader3', 'PlantedJson4'];
    const send = (body: string, type: string) =>
      s.call(`/leak?api_key=${planted[0]}&access_token=${planted[0]}&page=2`, {
        method: 'POST',
        body,
        headers: {
          'content-type': type,
          'x-api-key': planted[2],
          'x-auth-key': planted[2],
          cookie: `sid=${planted[2]}`,
        },
      });
    const form = `user=me&password=${planted[1]}&client_secret=${planted[1]}`;
    const formAnswer = await json(await send(form, 'application/x-www-form-urlencoded'));
    await send(`{"nested":{"apiKey":"${planted[3]}"}}`, 'application/json');
    await s.approve(formAnswer.approvalId);
    expect((await send(form, 'application/x-www-form-urlencoded')).status).toBe(200);

    const listed = await (await s.api('GET', '/v1/approvals')).text();
    const shown = JSON.parse(listed).approvals.find(
      (a: { id: string }) => a.id === formAnswer.approvalId,
    );
    expect(shown.bodyPreview).toBe('user=me&password=[REDACTED]&client_secret=[REDACTED]');
    expect(shown.url).toBe(
      `${upstream.httpUrl}/leak?api_key=[REDACTED]&access_token=[REDACTED]&page=2`,
    );
    await s.gateway.audit.flush();
    const audit = JSON.stringify(await s.gateway.audit.query({ vault: 'writes', limit: 100 }));
    const disk = Buffer.concat(
      [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
    ).toString('latin1');
    expect(disk).toContain(formAnswer.approvalId); // the search sees the approvals
    for (const text of [listed, audit, disk, lines.join('\n')]) {
      for (const secret of [SECRET, s.agentToken, ...planted]) expect(text).not.toContain(secret);
    }
  });
});
