/**
 * Raw-socket fuzz of the forward proxy port: generated request bytes (malformed request lines,
 * odd request-targets, CONNECT without a port, giant and duplicate headers, CL+TE, bad chunk
 * sizes, bare LF, NUL, pipelining) sent straight to the listener and inside CONNECT tunnels.
 * For every input: the gateway answers with a coded refusal, a 2xx from the upstream, or closes
 * the connection; the planted secret never comes back; no denied path reaches the upstream.
 * Afterwards the gateway is still healthy and serves a normal request.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';
import { basicProxyAuth } from '../helpers/raw-http';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const SECRET = `sk_fuzz_${randomBytes(16).toString('hex')}`;
const DIRECT_INPUTS = 4000;
const TUNNEL_INPUTS = 1200;
const REVERSE_INPUTS = 1000;
/** Far above any answer the gateway owes; an input that reaches it counts as a hang. */
const HANG_MS = 10_000;
const CONCURRENCY = 32;
/**
 * Quiet time after which the client half-closes. Not at once: the gateway takes a client's FIN
 * during the pipeline as the client leaving (VEC_CLIENT_CLOSED), as nginx does.
 */
const IDLE_MS = 150;

interface Outcome {
  input: string;
  bytes: Buffer;
  hung: boolean;
}

/** Sends `input` (after an optional CONNECT preamble), half-closes once quiet, collects the answer until close. */
function exchange(
  port: number,
  input: Buffer,
  preamble?: Buffer,
): Promise<{ bytes: Buffer; hung: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let established = preamble === undefined;
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      socket.destroy();
    }, HANG_MS);
    let idle: NodeJS.Timeout | undefined;
    const quiet = () => {
      clearTimeout(idle);
      idle = setTimeout(() => socket.end(), IDLE_MS);
    };
    socket.on('data', (chunk: Buffer) => {
      quiet();
      if (established) {
        chunks.push(chunk);
        return;
      }
      // The CONNECT answer comes first; the fuzz input goes into the tunnel once it is open.
      chunks.push(chunk);
      const head = Buffer.concat(chunks).toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!head.startsWith('HTTP/1.1 200')) {
        socket.destroy();
        return;
      }
      chunks.length = 0;
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length) chunks.push(rest);
      established = true;
      socket.write(input);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(idle);
      resolve({ bytes: Buffer.concat(chunks), hung });
    });
    socket.on('connect', () => {
      socket.write(preamble ?? input);
      quiet();
    });
  });
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]);
      }
    }),
  );
  return results;
}

/** Every HTTP response head in `bytes`: status and headers (bodies skipped by Content-Length). */
function responseHeads(bytes: Buffer): Array<{ status: number; headers: Map<string, string> }> {
  const text = bytes.toString('latin1');
  const heads: Array<{ status: number; headers: Map<string, string> }> = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = text.slice(at, end).split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!match) break;
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    heads.push({ status: Number(match[1]), headers });
    const length = Number(headers.get('content-length') ?? 0);
    if (headers.get('transfer-encoding')?.includes('chunked')) break;
    const skipped = end + 4 + (Number.isFinite(length) ? length : 0);
    // A HEAD answer declares a length it does not send: then the next head starts right away.
    at = text.startsWith('HTTP/1.', skipped) ? skipped : Math.max(skipped, end + 4);
    if (!text.startsWith('HTTP/1.', at) && text.startsWith('HTTP/1.', end + 4)) at = end + 4;
  }
  return heads;
}

/** What a lenient upstream router would make of a path: decoded, `\` as `/`, slashes and dots resolved, lower-cased. */
function routedPath(target: string): string {
  let path = target.split('?')[0];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    const slash = path.indexOf('/', path.indexOf('//') + 2);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  for (let i = 0; i < 3; i++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      break;
    }
  }
  const out: string[] = [];
  for (const segment of path.replace(/\\/g, '/').split(/\/+/)) {
    const s = segment.split(';')[0];
    if (s === '..') out.pop();
    else if (s !== '.' && s !== '') out.push(s);
  }
  return `/${out.join('/')}`.toLowerCase();
}

// ---- the grammar -------------------------------------------------------------------------------

/** Where the bytes go: the proxy listener, inside a CONNECT tunnel, or `/proxy/<url>` on the API port. */
type Entry = 'forward' | 'tunnel' | 'reverse';

function requestArbitrary(ctx: { port: number; auth: string; token: string; entry: Entry }) {
  const inTunnel = ctx.entry === 'tunnel';
  const origin = `127.0.0.1:${ctx.port}`;
  const method = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD') },
    {
      weight: 2,
      arbitrary: fc.constantFrom('CONNECT', 'OPTIONS', 'TRACE', 'get', 'G ET', '', 'X'.repeat(64)),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  const path = fc.oneof(
    fc.constantFrom(
      '/',
      '/ok',
      '/admin/users',
      '//admin/users',
      '/ADMIN/users',
      '/./admin',
      '/x/../admin',
      '/%2e%2e/admin',
      '/x/%2E%2E/admin',
      '/%61dmin',
      '/admin%2Fusers',
      '/x%2F..%2Fadmin',
      '/%5cadmin',
      '/\\admin',
      '/admin;jsessionid=1',
      '/a b',
      '/\u00e9',
      '/%00',
      '/%zz',
      `/${'a'.repeat(9000)}`,
      '/ok?x=1&y=%2F',
      '/ok#frag',
    ),
    fc.stringMatching(/^\/[-a-zA-Z0-9._~%/;=?&+:@!$'()*,\\]{0,40}$/),
  );
  const target = fc.oneof(
    { weight: 5, arbitrary: path.map((p) => (inTunnel ? p : `http://${origin}${p}`)) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        path.map((p) => `http://${origin}${p}`),
        path.map((p) => `https://${origin}${p}`),
        path.map((p) => `http://evil.attacker.test${p}`),
        path.map((p) => `https://evil.attacker.test:${ctx.port}${p}`),
        path.map((p) => `http://user:pass@${origin}${p}`),
        path.map((p) => `HTTP://${origin.toUpperCase()}${p}`),
        path.map((p) => `http://[::1]:${ctx.port}${p}`),
        path.map((p) => `http://127.0.0.1${p}`),
        path.map((p) => `http://${origin}:99${p}`),
        fc.constantFrom('*', origin, '127.0.0.1', '', 'http://', 'http:///admin', '/../../etc'),
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  );
  const version = fc.oneof(
    { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
    {
      weight: 2,
      arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'http/1.1', '', 'HTTP/1.1 x'),
    },
  );
  const eol = fc.oneof(
    { weight: 9, arbitrary: fc.constant('\r\n') },
    { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\r\r\n') },
  );
  const validHeader = fc.oneof(
    fc.constantFrom(
      `Host: ${origin}`,
      'Host: evil.attacker.test',
      'Content-Length: 5',
      'Content-Length: 0',
      'Transfer-Encoding: chunked',
      'Expect: 100-continue',
      'Connection: close',
      'Connection: keep-alive, Upgrade',
      'Upgrade: h2c',
      'Upgrade: websocket',
      `Proxy-Authorization: ${ctx.auth}`,
      'Proxy-Authorization: Basic !!!',
      'Proxy-Authorization: Bearer vec_agt_forged',
      `Authorization: Bearer ${'x'.repeat(40)}`,
      'Content-Type: application/json',
      'X-Vectra-Approval: 1',
    ),
    fc
      .tuple(
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,11}$/),
        fc.stringMatching(/^[\x21-\x7e]{0,20}$/),
      )
      .map(([n, v]) => `${n}: ${v}`),
  );
  const oddHeader = fc.oneof(
    fc.constantFrom(
      'Host:',
      'Content-Length: -1',
      'Content-Length: 5, 6',
      'Content-Length: 99999999999999999999',
      'Content-Length: 0x10',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: chunked, gzip',
      'Transfer-Encoding: xchunked',
      'Transfer-Encoding : chunked',
      ' folded continuation',
      'Bad Header: x',
      'X-Nul: a\u0000b',
      'X-Ctl: a\u0001b',
      ':no-name',
      'no-colon',
      `X-Giant: ${'g'.repeat(70_000)}`,
    ),
    fc
      .tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 20 }))
      .map(([n, v]) => `${n}: ${v}`),
  );
  const header = fc.oneof(
    { weight: 9, arbitrary: validHeader },
    { weight: 1, arbitrary: oddHeader },
  );
  const body = fc.oneof(
    // Most often nothing: bytes after a bodiless request are parsed as the next one.
    { weight: 3, arbitrary: fc.constant('') },
    fc.constantFrom(
      'hello',
      '5\r\nhello\r\n0\r\n\r\n',
      'zz\r\nhello\r\n0\r\n\r\n',
      'ffffffffffffffffff\r\nx\r\n0\r\n\r\n',
      '-1\r\nx\r\n0\r\n\r\n',
      '5;ext=1\r\nhello\r\n0\r\n\r\n',
      '5\r\nhello\r\n',
      '5\nhello\n0\n\n',
      `GET http://${origin}/admin HTTP/1.1\r\nHost: ${origin}\r\n\r\n`,
      `0\r\n\r\nGET /admin HTTP/1.1\r\nHost: ${origin}\r\n\r\n`,
      '{"a":1}',
      '\u0000\u0000',
    ),
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
  return fc
    .record({
      method,
      target,
      version,
      eol,
      headers: fc.array(header, { maxLength: 6 }),
      auth: fc.boolean(),
      host: fc.boolean(),
      manyHeaders: fc.integer({ min: 0, max: 20 }),
      body,
    })
    .map((r) => {
      // The reverse route takes the absolute URL after /proxy/ (or whatever else was drawn).
      const target = ctx.entry === 'reverse' ? `/proxy/${r.target}` : r.target;
      const lines = [`${r.method} ${target} ${r.version}`.replace(/ $/, '')];
      if (r.host) lines.push(`Host: ${origin}`);
      if (r.auth && ctx.entry === 'forward') lines.push(`Proxy-Authorization: ${ctx.auth}`);
      if (r.auth && ctx.entry === 'reverse') {
        lines.push(`Authorization: Bearer ${ctx.token}`, 'X-Vault: fuzz');
      }
      lines.push(...r.headers);
      // Now and then thousands of headers: past any count limit.
      if (r.manyHeaders === 20) for (let i = 0; i < 3000; i++) lines.push(`X-H${i}: v`);
      return lines.join(r.eol) + r.eol + r.eol + r.body;
    });
}

describe('raw-socket fuzz of the proxy port', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let proxyPort: number;
  let auth: string;
  let token: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    const policies = tempDir('vectra-fuzz-policies-');
    writeFileSync(
      join(policies, 'no-admin.json'),
      JSON.stringify({
        name: 'no-admin',
        default: 'Allow',
        rules: [
          {
            name: 'no-admin',
            reason: 'The admin area is off limits',
            effect: 'Deny',
            conditions: [
              { field: 'request.path', operator: 'startsWith', value: '/admin', ignoreCase: true },
            ],
          },
        ],
      }),
    );
    gateway = await startTestGateway({
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__Proxy__UpstreamCaFile: upstream.caFile,
      Policy__Providers__Internal__Directory: policies,
      System__RateLimit__DefaultRequestsPerMinute: '1000000',
    });
    await gateway.vaults.createVault({ name: 'fuzz' });
    await gateway.vaults.setCredential('fuzz', 'API_KEY', SECRET);
    await gateway.vaults.createService('fuzz', {
      name: 'recorder',
      host: `127.0.0.1:${upstream.httpPort}`,
      scheme: 'http',
      auth: { type: 'bearer', credential: 'API_KEY' },
    });
    token = (await gateway.identity.createAgent({ name: 'fuzzer', vaults: ['fuzz'] })).token;
    auth = basicProxyAuth(token, 'fuzz');
    proxyPort = Number(new URL(gateway.urls.proxy!).port);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  function judge(outcomes: Outcome[]): string[] {
    const problems: string[] = [];
    for (const { input, bytes, hung } of outcomes) {
      const shown = JSON.stringify(input.length > 300 ? `${input.slice(0, 300)}…` : input);
      if (hung) problems.push(`hung: ${shown}`);
      if (bytes.includes(SECRET)) problems.push(`secret echoed: ${shown}`);
      if (bytes.length > 0 && !bytes.toString('latin1').startsWith('HTTP/1.1 ')) {
        problems.push(`not an HTTP/1.1 answer: ${shown}`);
      }
      for (const head of responseHeads(bytes)) {
        // The recorder answers 200 (or Node's 400 for what it cannot parse); the gateway adds its
        // RateLimit-* headers to every relayed answer. Anything else is the gateway's own.
        if (head.status === 100 || head.status === 200) continue;
        const relayed = head.headers.has('ratelimit-limit') && !head.headers.has('x-vectra-error');
        if (relayed) continue;
        const code = head.headers.get('x-vectra-error') ?? '';
        if (!/^VEC_[A-Z_]+$/.test(code) || head.status < 400) {
          const answer = JSON.stringify(bytes.toString('latin1').slice(0, 600));
          problems.push(`status ${head.status} without a code: ${shown} → ${answer}`);
        }
      }
    }
    for (const received of upstream.received) {
      if (!received.url.startsWith('/')) {
        problems.push(`not origin-form upstream: ${JSON.stringify(received.url)}`);
      }
      if (routedPath(received.url).startsWith('/admin')) {
        problems.push(`denied path reached the upstream: ${JSON.stringify(received.url)}`);
      }
    }
    // One line per distinct problem, so that every class shows.
    return [...new Set(problems)];
  }

  async function expectHealthy(): Promise<void> {
    const health = await fetch(`${gateway.urls.http}/health`);
    expect(health.status).toBe(200);
    const ok = await exchange(
      proxyPort,
      Buffer.from(
        `GET http://127.0.0.1:${upstream.httpPort}/ok HTTP/1.1\r\nHost: 127.0.0.1:${upstream.httpPort}\r\n` +
          `Proxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(ok.bytes.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
  }

  /**
   * Sends `count` inputs generated for `entry` (seeded) to `port`, each after `preamble` when
   * given, and expects every one answered with a code, a 2xx or a close, and the gateway healthy.
   */
  async function fuzz(
    entry: Entry,
    count: number,
    seed: number,
    port: number,
    preamble?: string,
  ): Promise<void> {
    upstream.received.length = 0;
    const inputs = fc.sample(requestArbitrary({ port: upstream.httpPort, auth, token, entry }), {
      numRuns: count,
      seed,
    });
    const outcomes = await pool(inputs, CONCURRENCY, async (input) => ({
      input,
      ...(await exchange(
        port,
        Buffer.from(input, 'latin1'),
        preamble === undefined ? undefined : Buffer.from(preamble),
      )),
    }));
    expect(outcomes).toHaveLength(count);
    expect(judge(outcomes).slice(0, 20)).toEqual([]);
    await expectHealthy();
  }

  it(`answers ${DIRECT_INPUTS} generated inputs on the listener with a code, a 2xx or a close`, async () => {
    await fuzz('forward', DIRECT_INPUTS, 20261207, proxyPort);
  }, 240_000);

  it(`answers ${TUNNEL_INPUTS} generated inputs inside CONNECT tunnels the same way`, async () => {
    const connectLine =
      `CONNECT 127.0.0.1:${upstream.httpPort} HTTP/1.1\r\nHost: 127.0.0.1:${upstream.httpPort}\r\n` +
      `Proxy-Authorization: ${auth}\r\n\r\n`;
    await fuzz('tunnel', TUNNEL_INPUTS, 7122026, proxyPort, connectLine);
  }, 240_000);

  it(`answers ${REVERSE_INPUTS} generated inputs on /proxy/ of the API port the same way`, async () => {
    await fuzz('reverse', REVERSE_INPUTS, 1207, Number(new URL(gateway.urls.http).port));
  }, 240_000);

  it('refuses CONNECT targets without a port, with userinfo or garbage, with a code', async () => {
    const targets = [
      '127.0.0.1',
      'localhost:',
      ':443',
      'user@127.0.0.1:1',
      '[::1',
      '[::1]',
      '%',
      '',
    ];
    for (const target of targets) {
      const { bytes, hung } = await exchange(
        proxyPort,
        Buffer.from(`CONNECT ${target} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`),
      );
      expect(hung).toBe(false);
      const heads = responseHeads(bytes);
      if (heads.length === 0) continue; // closed: acceptable
      expect(heads[0].status).toBeGreaterThanOrEqual(400);
      expect(heads[0].status).toBeLessThan(500);
      expect(heads[0].headers.get('x-vectra-error')).toMatch(/^VEC_/);
    }
    await expectHealthy();
  });
});
