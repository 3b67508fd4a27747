/**
 * The data plane end to end: a real gateway, a real local HTTPS/HTTP upstream, real clients
 * (curl, python3) through the forward proxy (CONNECT with TLS interception, absolute-form) and
 * the /proxy/ reverse route. The upstream must receive the injected credential; the client
 * must never see it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Gateway } from '../../src/gateway';
import { waitForAuditRow } from '../helpers/audit';
import { curl, type CurlResult } from '../helpers/curl';
import { startTestGateway } from '../helpers/gateway';
import { startUpstream, type Route, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const run = promisify(execFile);
const SECRET = `sk_test_${randomBytes(12).toString('hex')}`;
/** Larger than MAX_BUFFERED_REDACTION_BYTES (64 KiB): redacted as a stream, sent chunked. */
const BIG_ECHO_BYTES = 100 * 1024;

/** `/big-echo`: the Authorization header echoed at both ends of a 100 KiB body. */
const bigEcho: Route = (req, res) => {
  if (!req.url?.startsWith('/big-echo')) return false;
  const auth = String(req.headers.authorization);
  const body = Buffer.from(auth + 'x'.repeat(BIG_ECHO_BYTES - 2 * auth.length) + auth);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
  return true;
};

describe('forward proxy and reverse route', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let agentToken: string;
  let caFile: string;
  let proxy: string;
  /** curl through the proxy with the gateway's CA trusted, for CONNECT tunnels. */
  const throughTunnel = (args: string[]) => curl(['--proxy', proxy, '--cacert', caFile, ...args]);
  /** `res` shows the gateway's refusal with `code`, and nothing reached the upstream. */
  const expectRefusedUpstreamless = (res: CurlResult, code: string) => {
    expect(res.stdout).toMatch(new RegExp(`x-vectra-error: ${code}`, 'i'));
    expect(upstream.received).toHaveLength(0);
  };

  beforeAll(async () => {
    upstream = await startUpstream([bigEcho]);
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__Proxy__MaxRequestBodyBytes: '1024',
    });
    const vaults = gateway.vaults;
    await vaults.createVault({ name: 'shop' });
    await vaults.setCredential('shop', 'API_KEY', SECRET);
    // A credential goes only to the scheme and port its service names: one service per server.
    await vaults.createService('shop', {
      name: 'local',
      host: `localhost:${upstream.httpsPort}`,
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    await vaults.createService('shop', {
      name: 'local-plain',
      host: `localhost:${upstream.httpPort}`,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    agentToken = (await gateway.identity.createAgent({ name: 'shopper', vaults: ['shop'] })).token;
    const dir = tempDir('vectra-ca-');
    caFile = join(dir, 'vectra-ca.pem');
    writeFileSync(caFile, await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text());
    proxy = `http://${agentToken}:shop@${new URL(gateway.urls.proxy!).host}`;
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.received.length = 0;
  });

  it('CONNECT: curl reaches the HTTPS upstream through TLS interception with the credential injected', async () => {
    const res = await throughTunnel([
      '-H',
      'Authorization: Bearer agent-sent',
      `${upstream.httpsUrl}/v1/items?x=1`,
    ]);
    expect(res.stderr).toBe('');
    expect(upstream.received).toHaveLength(1);
    const got = upstream.received[0];
    expect(got.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(got.headers['proxy-authorization']).toBeUndefined();
    expect(got.url).toBe('/v1/items?x=1');
    // The upstream echoed the credential back: the agent sees it redacted.
    expect(res.stdout).not.toContain(SECRET);
    expect(JSON.parse(res.stdout).method).toBe('GET');
  });

  it('keeps the tunnel alive across requests (HTTP/1.1 keep-alive inside CONNECT)', async () => {
    const res = await throughTunnel([
      `${upstream.httpsUrl}/a`,
      `${upstream.httpsUrl}/b`,
      '-w',
      '\n%{num_connects}\n',
    ]);
    expect(upstream.received.map((r) => r.url)).toEqual(['/a', '/b']);
    expect(res.stdout.trim().split('\n').at(-1)).toBe('0');
  });

  it('absolute-form http:// through the proxy', async () => {
    const res = await curl(['--proxy', proxy, `${upstream.httpUrl}/plain`]);
    expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(res.stdout).not.toContain(SECRET);
  });

  it('python3 (standard library) through HTTPS_PROXY with the Vectra CA', async () => {
    const script = [
      'import json, os, ssl, urllib.request',
      'ctx = ssl.create_default_context(cafile=os.environ["CA"])',
      'opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": os.environ["PROXY"]}), urllib.request.HTTPSHandler(context=ctx))',
      'print(json.loads(opener.open(os.environ["URL"]).read())["url"])',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script], {
      env: { ...process.env, CA: caFile, PROXY: proxy, URL: `${upstream.httpsUrl}/py` },
    });
    expect(stdout.trim()).toBe('/py');
    expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
  });

  it('/proxy/<url> on the API port consumes the agent token and injects the credential', async () => {
    const res = await fetch(`${gateway.urls.http}/proxy/${upstream.httpsUrl}/rev?q=1`, {
      headers: { authorization: `Bearer ${agentToken}`, 'x-vault': 'shop' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain(SECRET);
    expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(upstream.received[0].headers['x-vault']).toBeUndefined();
    expect(JSON.stringify(upstream.received[0].headers)).not.toContain(agentToken);
  });

  it('a small echo of the secret is redacted with an exact Content-Length, and audited with the bytes the client got', async () => {
    const res = await fetch(`${gateway.urls.http}/proxy/${upstream.httpsUrl}/small-echo`, {
      headers: { authorization: `Bearer ${agentToken}`, 'x-vault': 'shop' },
    });
    expect(upstream.received[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(body.toString()).not.toContain(SECRET);
    expect(JSON.parse(body.toString()).headers.authorization).toBe('Bearer [REDACTED]');
    // Read whole and redacted in one pass: a recomputed length, not chunked.
    expect(res.headers.get('transfer-encoding')).toBeNull();
    expect(res.headers.get('content-length')).toBe(String(body.length));
    const row = await waitForAuditRow(gateway, 'shop', '/small-echo', 50);
    expect(row).toMatchObject({ status: 200, decision: 'allow', errorCode: null });
    expect(row.bytesOut).toBe(body.length);
  });

  it('the same through a CONNECT tunnel: redacted, and bytesOut is what curl downloaded', async () => {
    const res = await throughTunnel([
      '-i',
      '-w',
      '\n%{size_download}',
      `${upstream.httpsUrl}/tunnel-echo`,
    ]);
    expect(res.stderr).toBe('');
    // -i shows the proxy's CONNECT answer first, then the upstream's head, then the body.
    const [head, rest] = res.stdout.split('\r\n\r\n').slice(-2);
    const lines = rest.split('\n');
    const downloaded = Number(lines.pop());
    const body = lines.join('\n');
    expect(body).not.toContain(SECRET);
    expect(JSON.parse(body).headers.authorization).toBe('Bearer [REDACTED]');
    expect(Buffer.byteLength(body)).toBe(downloaded);
    expect(head).toMatch(new RegExp(`^content-length: ${downloaded}$`, 'im'));
    const row = await waitForAuditRow(gateway, 'shop', '/tunnel-echo', 50);
    expect(row.status).toBe(200);
    expect(row.bytesOut).toBe(downloaded);
  });

  it('a large echo (over the buffered limit) is redacted as a stream, and audited with the bytes the client got', async () => {
    const res = await fetch(`${gateway.urls.http}/proxy/${upstream.httpsUrl}/big-echo`, {
      headers: { authorization: `Bearer ${agentToken}`, 'x-vault': 'shop' },
    });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const text = body.toString();
    expect(text).not.toContain(SECRET);
    expect(text.startsWith('Bearer [REDACTED]x')).toBe(true);
    expect(text.endsWith('xBearer [REDACTED]')).toBe(true);
    expect(body.length).toBe(BIG_ECHO_BYTES - 2 * SECRET.length + 2 * '[REDACTED]'.length);
    const row = await waitForAuditRow(gateway, 'shop', '/big-echo', 50);
    expect(row.bytesOut).toBe(body.length);
  });

  it('request bodies reach the upstream whole, through the tunnel and the reverse route', async () => {
    const payload = JSON.stringify({
      items: Array.from({ length: 20 }, (_, i) => `item-${i}`),
    }).slice(0, 900);
    await throughTunnel([
      '-H',
      'content-type: application/json',
      '--data-binary',
      payload,
      `${upstream.httpsUrl}/post`,
    ]);
    const reverse = await fetch(`${gateway.urls.http}/proxy/${upstream.httpsUrl}/post2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'text/plain' },
      body: payload,
    });
    expect(reverse.status).toBe(200);
    expect(upstream.received.map((r) => [r.url, r.body])).toEqual([
      ['/post', payload],
      ['/post2', payload],
    ]);
  });

  it('refuses a missing or bad token with 407 and Proxy-Authenticate', async () => {
    const none = await curl([
      '-i',
      '--proxy',
      `http://${new URL(gateway.urls.proxy!).host}`,
      `${upstream.httpUrl}/x`,
    ]);
    expect(none.stdout).toMatch(/^HTTP\/1\.1 407/);
    expect(none.stdout).toMatch(/proxy-authenticate: Basic/i);
    expect(none.stdout).toMatch(/x-vectra-error: VEC_PROXY_AUTH_REQUIRED/i);
    const bad = await curl([
      '--proxy',
      `http://vec_agt_${'A'.repeat(43)}:shop@${new URL(gateway.urls.proxy!).host}`,
      '--cacert',
      caFile,
      `${upstream.httpsUrl}/x`,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/407/);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses hosts that match no service when the vault says deny', async () => {
    const res = await curl(['-i', '--proxy', proxy, `http://127.0.0.1:${upstream.httpPort}/other`]);
    expect(res.stdout).toMatch(/^HTTP\/1\.1 403/);
    expectRefusedUpstreamless(res, 'VEC_UNMATCHED_HOST_DENIED');
  });

  it('refuses a Host inside the tunnel that differs from the CONNECT authority', async () => {
    const res = await throughTunnel([
      '-i',
      '-H',
      'Host: evil.example:443',
      `${upstream.httpsUrl}/x`,
    ]);
    expectRefusedUpstreamless(res, 'VEC_TUNNEL_HOST_MISMATCH');
  });

  it('refuses an oversized body with its own code', async () => {
    const res = await throughTunnel([
      '-i',
      '--data-binary',
      'x'.repeat(4096),
      `${upstream.httpsUrl}/big`,
    ]);
    expect(res.stdout).toMatch(/x-vectra-error: VEC_REQUEST_TOO_LARGE/i);
  });
});

describe('upstream safety', () => {
  it('blocks loopback upstreams unless allow-listed, and never trusts an unknown certificate', async () => {
    const upstream = await startUpstream();
    const strict = await startTestGateway({ System__Proxy__UpstreamCaFile: upstream.caFile });
    const untrusting = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    try {
      for (const gateway of [strict, untrusting]) {
        await gateway.vaults.updateVault('default', { unmatchedHosts: 'passthrough' });
      }
      const token = async (gateway: Gateway) =>
        (await gateway.identity.createAgent({ name: 'a1', vaults: ['default'] })).token;
      const blocked = await fetch(`${strict.urls.http}/proxy/${upstream.httpUrl}/`, {
        headers: { authorization: `Bearer ${await token(strict)}` },
      });
      expect(blocked.status).toBe(403);
      expect(blocked.headers.get('x-vectra-error')).toBe('VEC_UPSTREAM_BLOCKED');
      const untrusted = await fetch(`${untrusting.urls.http}/proxy/${upstream.httpsUrl}/`, {
        headers: { authorization: `Bearer ${await token(untrusting)}` },
      });
      expect(untrusted.status).toBe(502);
      expect(untrusted.headers.get('x-vectra-error')).toBe('VEC_UPSTREAM_TLS_INVALID');
      expect(upstream.received).toHaveLength(0);
    } finally {
      await strict.close();
      await untrusting.close();
      await upstream.close();
    }
  });
});
