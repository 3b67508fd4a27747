/**
 * A policy that reads `request.body` refuses a body it cannot judge, through the real forward
 * proxy (absolute-form; a CONNECT tunnel and the /proxy/ route likewise): over Policy.MaxBodyBytes (declared or chunked) is 413 VEC_POLICY_BODY_UNREADABLE, a body
 * that is not JSON is 400 VEC_POLICY_BODY_UNREADABLE, and JSON is found by its content (a UTF-8
 * BOM, `text/plain`, chunked without a length) rather than by Content-Type alone, so a Deny on
 * `request.body.action` holds whatever the client declares. Refused requests never reach the
 * upstream; allowed ones arrive byte for byte as sent. A rule may opt out
 * (`"onUnreadableBody": "ignore"`). A policy set without body rules never reads a body: it
 * reaches the upstream before the client has finished sending it. OPA, which cannot say whether
 * its policy reads the body, gets the body read up to the limit and an unreadable one refused.
 */
import { execFile } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Gateway } from '../../src/gateway';
import { evaluatePolicy, startTestGateway } from '../helpers/gateway';
import { policyDocument, rule, when } from '../helpers/policy-documents';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const LIMIT = 1024;

interface Arrival {
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An upstream that records each request's raw bytes and tells when one starts arriving. */
async function startRecordingUpstream() {
  const received: Arrival[] = [];
  const started: Array<() => void> = [];
  const server = createServer((req, res) => {
    for (const notify of started.splice(0)) notify();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** Resolves when the next request's headers reach the upstream. */
    nextArrival: () => new Promise<void>((resolve) => started.push(resolve)),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

type Upstream = Awaited<ReturnType<typeof startRecordingUpstream>>;

function policyDirectory(policies: object[]): string {
  const dir = tempDir('vectra-body-policies-');
  policies.forEach((policy, i) => writeFileSync(join(dir, `p${i}.json`), JSON.stringify(policy)));
  return dir;
}

const dropRule = rule('no-drops', 'Deny', 'Dropping tables is not allowed', [
  when('request.body.action', 'eq', 'drop'),
]);

const BODY_POLICIES = [
  policyDocument('deny-drops', 'Allow', [dropRule], { appliesTo: { agents: 'denier' } }),
  policyDocument(
    'reads-only',
    'Deny',
    [rule('reads', 'Allow', 'Reads are fine', [when('body.action', 'eq', 'read')])],
    { appliesTo: { agents: 'reader' } },
  ),
  policyDocument('lenient', 'Allow', [{ ...dropRule, onUnreadableBody: 'ignore' }], {
    appliesTo: { agents: 'lenient' },
  }),
];

interface Sent {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A POST through the forward proxy (absolute-form). `chunks` are written one by one; without
 * `contentLength` Node sends them chunked. `between` runs after the first chunk was written.
 */
function send(
  gateway: Gateway,
  auth: string,
  target: string,
  options: {
    chunks: Array<string | Buffer>;
    contentType?: string;
    contentLength?: number;
    between?: () => Promise<void>;
  },
): Promise<Sent> {
  const proxy = new URL(gateway.urls.proxy);
  const headers: Record<string, string | number> = {
    'proxy-authorization': `Basic ${Buffer.from(auth).toString('base64')}`,
    host: new URL(target).host,
  };
  if (options.contentType) headers['content-type'] = options.contentType;
  if (options.contentLength !== undefined) headers['content-length'] = options.contentLength;
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: proxy.hostname,
      port: Number(proxy.port),
      method: 'POST',
      path: target,
      headers,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    void (async () => {
      const [first, ...rest] = options.chunks;
      req.write(first);
      if (options.between) await options.between();
      for (const chunk of rest) req.write(chunk);
      req.end();
    })().catch(reject);
  });
}

/** `text` cut in three parts, to be sent chunked. */
const thirds = (text: string | Buffer): Buffer[] => {
  const bytes = Buffer.from(text);
  const a = Math.floor(bytes.length / 3);
  return [bytes.subarray(0, a), bytes.subarray(a, 2 * a), bytes.subarray(2 * a)];
};

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const withBom = (text: string) => Buffer.concat([BOM, Buffer.from(text)]);
const big = (action: string) =>
  JSON.stringify({ action, padding: 'p'.repeat(4 * LIMIT) }).padEnd(4 * LIMIT, ' ');

function expectRefused(sent: Sent, status: number, code: string, upstream: Upstream): void {
  expect({ status: sent.status, code: sent.headers['x-vectra-error'] }).toEqual({ status, code });
  expect(JSON.parse(sent.body)).toMatchObject({ code, statusCode: status });
  expect(upstream.received).toHaveLength(0);
}

function expectForwarded(sent: Sent, bytes: Buffer, upstream: Upstream): void {
  expect(sent.status).toBe(200);
  expect(upstream.received).toHaveLength(1);
  expect(upstream.received[0].body.equals(bytes)).toBe(true);
}

async function agentOf(gateway: Gateway, name: string): Promise<string> {
  const { token } = await gateway.identity.createAgent({ name, vaults: ['bodies'] });
  return `${token}:bodies`;
}

describe('a policy that reads request.body, through the forward proxy', () => {
  let upstream: Upstream;
  let tls: TestUpstream;
  let gateway: Gateway;
  const auth: Record<string, string> = {};

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    tls = await startUpstream();
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: tls.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__MaxBodyBytes: String(LIMIT),
      Policy__Providers__Internal__Directory: policyDirectory(BODY_POLICIES),
    });
    await gateway.vaults.createVault({ name: 'bodies', unmatchedHosts: 'passthrough' });
    for (const name of ['denier', 'reader', 'lenient']) auth[name] = await agentOf(gateway, name);
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
    await tls.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
    tls.received.length = 0;
  });

  const items = () => `${upstream.url}/items`;
  /** A POST of `chunks` to the recording upstream as `agent`; chunked without `contentLength`. */
  const post = (
    agent: string,
    chunks: Array<string | Buffer>,
    contentType?: string,
    contentLength?: number,
  ) => send(gateway, auth[agent], items(), { chunks, contentType, contentLength });

  describe('a Deny on request.body.action refuses what it cannot judge', () => {
    it.each<[string, Array<string | Buffer>, string, number | undefined, number]>([
      [
        'over MaxBodyBytes with a Content-Length: 413',
        [big('drop')],
        'application/json',
        Buffer.byteLength(big('drop')),
        413,
      ],
      [
        'over MaxBodyBytes, chunked without a length: 413',
        thirds(big('drop')),
        'application/json',
        undefined,
        413,
      ],
      [
        'a body that is not JSON (text/plain form data): 400',
        ['action=drop'],
        'text/plain',
        11,
        400,
      ],
      ['JSON that does not parse: 400', ['{"action":"drop",'], 'application/json', 17, 400],
    ])('%s, nothing upstream', async (_name, chunks, contentType, contentLength, status) => {
      const sent = await post('denier', chunks, contentType, contentLength);
      expectRefused(sent, status, 'VEC_POLICY_BODY_UNREADABLE', upstream);
    });
  });

  describe('JSON found by its content is judged by the Deny', () => {
    it.each([
      ['after a UTF-8 BOM', withBom('{"action":"drop"}'), 'application/json'],
      ['sent as text/plain', Buffer.from('  {"action":"drop"}'), 'text/plain'],
      ['without a Content-Type', Buffer.from('{"action":"drop"}'), undefined],
      ['with a BOM, as text/plain', withBom('\n{"action":"drop"}'), 'text/plain; charset=utf-8'],
    ])('%s', async (_name, bytes, contentType) => {
      const sent = await post('denier', [bytes], contentType, bytes.length);
      expectRefused(sent, 403, 'VEC_POLICY_DENIED', upstream);
    });

    it('chunked without a length, as text/plain', async () => {
      const sent = await post('denier', thirds(withBom('{"action":"drop"}')), 'text/plain');
      expectRefused(sent, 403, 'VEC_POLICY_DENIED', upstream);
    });
  });

  describe('the same bodies with a matching Allow arrive byte for byte', () => {
    it.each([
      ['after a UTF-8 BOM', withBom('{"action":"read"}'), 'application/json'],
      ['sent as text/plain', Buffer.from('\t{"action":"read"}\n'), 'text/plain'],
    ])('%s', async (_name, bytes, contentType) => {
      const sent = await post('reader', [bytes], contentType, bytes.length);
      expectForwarded(sent, bytes, upstream);
      expect(upstream.received[0].headers['content-length']).toBe(String(bytes.length));
    });

    it('chunked without a length, with a BOM, as text/plain', async () => {
      const bytes = withBom('{"action":"read","n":[1,2,3]}');
      const sent = await post('reader', thirds(bytes), 'text/plain');
      expectForwarded(sent, bytes, upstream);
    });

    it('a body the Allow cannot judge is refused like any other', async () => {
      const sent = await post('reader', thirds(big('read')), 'application/json');
      expectRefused(sent, 413, 'VEC_POLICY_BODY_UNREADABLE', upstream);
    });
  });

  describe('a rule with "onUnreadableBody": "ignore"', () => {
    it('lets a body over the limit through, byte for byte (declared length)', async () => {
      const body = Buffer.from(big('drop'));
      const sent = await post('lenient', [body], 'application/json', body.length);
      expectForwarded(sent, body, upstream);
    });

    it('lets a body over the limit through, byte for byte (chunked)', async () => {
      const body = Buffer.from(big('drop'));
      const sent = await post('lenient', thirds(body), 'text/plain');
      expectForwarded(sent, body, upstream);
    });

    it('still judges a body it can read', async () => {
      const bytes = withBom('{"action":"drop"}');
      const sent = await post('lenient', [bytes], 'text/plain', bytes.length);
      expectRefused(sent, 403, 'VEC_POLICY_DENIED', upstream);
    });
  });

  it('a CONNECT tunnel (curl over TLS) judges the same way', async () => {
    const dir = tempDir('vectra-body-curl-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text());
    const proxy = `http://${auth.denier}@${new URL(gateway.urls.proxy).host}`;
    const curl = async (bytes: Buffer, headers: string[]) => {
      const file = join(dir, 'body');
      writeFileSync(file, bytes);
      const args = ['-sS', '--max-time', '20', '--proxy', proxy, '--cacert', caFile];
      for (const header of headers) args.push('-H', header);
      args.push('-o', '/dev/null', '-w', '%{http_code}', '--data-binary', `@${file}`);
      const { stdout } = await promisify(execFile)('curl', [...args, `${tls.httpsUrl}/items`]);
      return Number(stdout);
    };
    expect(await curl(withBom('{"action":"drop"}'), ['Content-Type: text/plain'])).toBe(403);
    const chunked = ['Content-Type: application/json', 'Transfer-Encoding: chunked'];
    expect(await curl(Buffer.from(big('drop')), chunked)).toBe(413);
    expect(tls.received).toHaveLength(0);
    const fine = withBom('{"action":"create"}');
    expect(await curl(fine, ['Content-Type: text/plain'])).toBe(200);
    expect(tls.received[0].body).toBe(fine.toString('utf8'));
  });

  it('the /proxy/ route judges the same way', async () => {
    const token = auth.denier.split(':')[0];
    const call = (body: Buffer, contentType: string) =>
      fetch(`${gateway.urls.http}/proxy/${items()}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
        body,
      });
    const bom = await call(withBom('{"action":"drop"}'), 'text/plain');
    expect([bom.status, bom.headers.get('x-vectra-error')]).toEqual([403, 'VEC_POLICY_DENIED']);
    const over = await call(Buffer.from(big('drop')), 'application/json');
    expect([over.status, over.headers.get('x-vectra-error')]).toEqual([
      413,
      'VEC_POLICY_BODY_UNREADABLE',
    ]);
    const form = await call(Buffer.from('action=drop'), 'application/x-www-form-urlencoded');
    expect([form.status, form.headers.get('x-vectra-error')]).toEqual([
      400,
      'VEC_POLICY_BODY_UNREADABLE',
    ]);
    expect(upstream.received).toHaveLength(0);
    const fine = withBom('{"action":"create"}');
    expect((await call(fine, 'text/plain')).status).toBe(200);
    expect(upstream.received[0].body.equals(fine)).toBe(true);
  });

  it('a dry run (POST /v1/policy/evaluate) reports the same refusal', async () => {
    const { token } = await gateway.identity.createAdminToken({ name: 'auditor', role: 'auditor' });
    const evaluate = async (extra: object) => {
      const answer = await evaluatePolicy(gateway.urls.http, token, {
        agent: 'denier',
        vault: 'bodies',
        method: 'POST',
        url: items(),
        ...extra,
      });
      expect(answer.status).toBe(200);
      return answer.body as { decision: Record<string, unknown> };
    };
    const notJson = await evaluate({
      headers: { 'content-type': 'text/plain' },
      bodyText: 'action=drop',
    });
    expect(notJson.decision).toMatchObject({ effect: 'Deny', unreadableBody: 'not-json' });
    const bom = await evaluate({
      headers: { 'content-type': 'text/plain' },
      bodyText: '\uFEFF{"action":"drop"}',
    });
    expect(bom.decision).toMatchObject({ effect: 'Deny', rule: 'no-drops' });
    expect(bom.decision.unreadableBody).toBeUndefined();
    const tooLarge = await evaluate({ body: { action: 'x', padding: 'p'.repeat(2 * LIMIT) } });
    expect(tooLarge.decision).toMatchObject({ effect: 'Deny', unreadableBody: 'too-large' });
    expect(upstream.received).toHaveLength(0);
  });
});

describe('a policy set without body rules', () => {
  let upstream: Upstream;
  let gateway: Gateway;
  let auth: string;

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__MaxBodyBytes: String(LIMIT),
      Policy__Providers__Internal__Directory: policyDirectory([
        policyDocument('paths', 'Allow', [
          rule('no-admin', 'Deny', 'No admin', [when('path', 'startsWith', '/admin')]),
        ]),
      ]),
    });
    await gateway.vaults.createVault({ name: 'bodies', unmatchedHosts: 'passthrough' });
    auth = await agentOf(gateway, 'plain');
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
  });

  it('never reads the body: the upstream gets the request before the body has all been sent', async () => {
    const bytes = Buffer.from(big('drop'));
    const [first, ...rest] = thirds(withBom(bytes.toString()));
    const sent = await send(gateway, auth, `${upstream.url}/items`, {
      // The first part is far below the limit: a gateway reading the body would wait for more.
      chunks: [first.subarray(0, 10), first.subarray(10), ...rest],
      contentType: 'text/plain',
      between: upstream.nextArrival,
    });
    expectForwarded(sent, withBom(bytes.toString()), upstream);
  });

  it('forwards a body that is not JSON, whatever its size', async () => {
    const bytes = Buffer.from('action=drop&'.repeat(LIMIT));
    const sent = await send(gateway, auth, `${upstream.url}/form`, {
      chunks: [bytes],
      contentType: 'application/x-www-form-urlencoded',
      contentLength: bytes.length,
    });
    expectForwarded(sent, bytes, upstream);
  });
});

describe('the OPA provider', () => {
  let upstream: Upstream;
  let gateway: Gateway;
  let auth: string;
  const asked: Array<{ input: { request: Record<string, unknown> } }> = [];
  const opa = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      asked.push(JSON.parse(text));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":true}');
    });
  });

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    await new Promise<void>((resolve) => opa.listen(0, '127.0.0.1', resolve));
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      Policy__MaxBodyBytes: String(LIMIT),
      Policy__DefaultProvider: 'Opa',
      Policy__Providers__Opa__BaseUrl: `http://127.0.0.1:${(opa.address() as AddressInfo).port}`,
    });
    await gateway.vaults.createVault({ name: 'bodies', unmatchedHosts: 'passthrough' });
    auth = await agentOf(gateway, 'opa-bot');
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
    opa.closeAllConnections();
    await new Promise((resolve) => opa.close(resolve));
  });
  beforeEach(() => {
    upstream.received.length = 0;
    asked.length = 0;
  });

  it('gets the body found by its content, and the request goes on byte for byte', async () => {
    const bytes = withBom('{"action":"read"}');
    const sent = await send(gateway, auth, `${upstream.url}/items`, {
      chunks: thirds(bytes),
      contentType: 'text/plain',
    });
    expectForwarded(sent, bytes, upstream);
    expect(asked[0].input.request.body).toEqual({ action: 'read' });
  });

  it('refuses a body over the limit, and a body that is not JSON, without asking OPA', async () => {
    const over = await send(gateway, auth, `${upstream.url}/items`, {
      chunks: thirds(big('drop')),
      contentType: 'application/json',
    });
    expectRefused(over, 413, 'VEC_POLICY_BODY_UNREADABLE', upstream);
    const notJson = await send(gateway, auth, `${upstream.url}/items`, {
      chunks: ['action=drop'],
      contentType: 'text/plain',
      contentLength: 11,
    });
    expectRefused(notJson, 400, 'VEC_POLICY_BODY_UNREADABLE', upstream);
    expect(asked).toHaveLength(0);
  });
});
