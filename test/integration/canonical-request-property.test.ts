/**
 * One canonical request, as a property: generated request-targets (origin and absolute form,
 * percent-encodings, dot segments, repeated slashes, `;` parameters, letter case, IPv6 literals,
 * userinfo) go through the real gateway — the forward proxy, a CONNECT+TLS tunnel and
 * `/proxy/<url>` — to a recording upstream on loopback. For each, the path the upstream received
 * is byte-identical to the path in the policy input (seen by a fake OPA, which the gateway asks
 * with the real input) and in the audit row; or the gateway refused it with a VEC_ code and the
 * upstream saw nothing.
 *
 * Each request carries its case number as the last query parameter's name (`vcase<n>`), which
 * the upstream, the policy input and the audit row (names kept, values dropped) all show.
 */
import { writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway';
import type { AuditRow } from '../../src/audit/audit-log';
import { selfSignedCertificate } from '../helpers/certificates';
import { startTestGateway } from '../helpers/gateway';
import {
  openTunnel,
  passthroughAgent,
  rawConnect,
  type RawConnection,
  type RawResponse,
} from '../helpers/raw-http';
import { tempDir } from '../helpers/temp-dir';

/** Runs per entry point: 3 × 700 = 2,100 generated requests. */
const RUNS_PER_ENTRY = 700;
const VAULT = 'canon-prop';
const CASE = /[?&]vcase(\d+)(?:[=&]|$)/;

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    // `::` takes IPv4 too: 127.0.0.1, [::1] and localhost all reach it.
    server.listen(0, '::', () => resolve((server.address() as AddressInfo).port)),
  );

/** Upstream (HTTP and HTTPS) recording the first request-target of each case. */
async function startRecorder() {
  const seen = new Map<number, string>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const match = CASE.exec(url);
    if (match && !seen.has(Number(match[1]))) seen.set(Number(match[1]), url);
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  };
  const cert = selfSignedCertificate('localhost', { ipAddresses: ['::1'] });
  const http = createHttpServer(handle);
  const https = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, handle);
  const [httpPort, httpsPort] = await Promise.all([listen(http), listen(https)]);
  const dir = tempDir('vectra-canon-');
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, cert.certPem);
  return {
    seen,
    httpPort,
    httpsPort,
    caFile,
    async close() {
      for (const server of [http, https]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

/** A fake OPA that allows everything and records the first policy input path of each case. */
async function startOpa() {
  const paths = new Map<number, string>();
  const server = createHttpServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'POST') {
        const request = (JSON.parse(text) as { input: { request: any } }).input.request;
        const key = Object.keys(request.query).find((name) => /^vcase\d+$/.test(name));
        const id = key === undefined ? undefined : Number(key.slice('vcase'.length));
        if (id !== undefined && !paths.has(id)) paths.set(id, request.path);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":true}');
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
  return {
    paths,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---- Generators ----------------------------------------------------------------------------

const hex = fc
  .integer({ min: 0, max: 255 })
  .chain((byte) =>
    fc
      .boolean()
      .map(
        (lower) =>
          `%${byte.toString(16).padStart(2, '0')[lower ? 'toLowerCase' : 'toUpperCase']()}`,
      ),
  );
/** Characters outside the unreserved set, some of them not allowed in a path at all. */
const SPECIALS = [...'~!$&\'()*+,=:@[]"{}|\\^`<>-_'];
const usualPiece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'admin', 'Admin', 'ADMIN', 'v1', 'users', 'x') },
  { weight: 4, arbitrary: fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2e', '%2e.') },
  { weight: 3, arbitrary: fc.constantFrom('%2f', '%2F', '%5c', '%5C', '%61', '%7e', '%20', '%25') },
  { weight: 2, arbitrary: hex },
  { weight: 2, arbitrary: fc.constantFrom(';', ';p=1', ';jsessionid=x') },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIALS) },
);
/** Pieces that must be refused: broken escapes, a fragment, dot segments with parameters. */
const piece = fc.oneof(
  { weight: 60, arbitrary: usualPiece },
  { weight: 1, arbitrary: fc.constantFrom('%', '%g1', '%4', '#frag', '..;', '.;x') },
);
const segment = fc.array(piece, { minLength: 0, maxLength: 3 }).map((pieces) => pieces.join(''));
const path = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 6 }), fc.boolean(), fc.boolean())
  .map(([segments, doubled, trailing]) => {
    const joined = `/${segments.join(doubled ? '//' : '/')}`;
    return trailing ? `${joined}/` : joined;
  });
const query = fc.option(
  fc
    .array(fc.constantFrom('a=1', 'b=%2F', 'c', '..', 'd=/x/../y', 'e=%zz', ''), { maxLength: 3 })
    .map((parts) => `?${parts.join('&')}`),
  { nil: '' },
);
const scheme = (name: 'http' | 'https') =>
  fc.constantFrom(name, name.toUpperCase(), `${name[0].toUpperCase()}${name.slice(1)}`);
/** Mostly what works, with the spellings that must be refused mixed in. */
const rarely = <T>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 20, arbitrary: usual }, { weight: 1, arbitrary: odd });
const userinfo = rarely(fc.constant(''), fc.constantFrom('user@', 'u:p@', '@'));
/** Host spellings of the loopback upstream (and a few that must be refused). */
const host = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('127.0.0.1', 'localhost', 'LocalHost', 'localhost.') },
  { weight: 3, arbitrary: fc.constantFrom('[::1]', '[0:0:0:0:0:0:0:1]', '[::FFFF:127.0.0.1]') },
  { weight: 1, arbitrary: fc.constantFrom('127.1', '0x7f.0.0.1', '[::1%25lo]') },
);
const port = rarely(fc.constant('port'), fc.constantFrom('none', 'empty'));

/** A target with its case marker as the last query parameter. */
const marked = (target: string, id: number) =>
  `${target}${target.includes('?') ? '&' : '?'}vcase${id}`;

// ---- The property --------------------------------------------------------------------------

describe('one canonical request (property)', () => {
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  let opa: Awaited<ReturnType<typeof startOpa>>;
  let gateway: Gateway;
  let proxyPort: number;
  let apiPort: number;
  let token: string;
  let auth: string;
  let ca: string;
  let nextId = 0;
  /** Cases the upstream answered, for the audit comparison at the end. */
  const forwarded = new Map<number, { target: string; path: string }>();
  const connections: RawConnection[] = [];

  beforeAll(async () => {
    [recorder, opa] = await Promise.all([startRecorder(), startOpa()]);
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: recorder.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
      System__RateLimit__DefaultRequestsPerMinute: '1000000',
      System__RateLimit__Burst: '100000',
      Policy__DefaultProvider: 'Opa',
      Policy__Providers__Opa__BaseUrl: opa.url,
    });
    ({ token, auth, proxyPort, apiPort, ca } = await passthroughAgent(
      gateway,
      VAULT,
      'canon-prop-bot',
    ));
  });

  afterAll(async () => {
    for (const connection of connections) connection.close();
    await gateway?.close();
    await Promise.all([recorder?.close(), opa?.close()]);
  });

  /** A connection that is reopened when the gateway closed the last one. */
  function reusable(open: () => Promise<RawConnection>) {
    let current: RawConnection | undefined;
    return async (text: string): Promise<RawResponse> => {
      if (!current || current.closed) {
        current = await open();
        connections.push(current);
      }
      return current.request(text);
    };
  }

  /** The case's outcome: refused with a code and unseen upstream, or the same path everywhere. */
  function check(id: number, target: string, res: RawResponse): void {
    const received = recorder.seen.get(id);
    const code = res.headers['x-vectra-error'];
    if (received === undefined) {
      // Not forwarded: a coded refusal.
      expect({ target, code }).toEqual({ target, code: expect.stringMatching(/^VEC_[A-Z_]+$/) });
      expect(res.status).toBeGreaterThanOrEqual(400);
      return;
    }
    const upstreamPath = received.split('?', 1)[0];
    expect({ target, status: res.status, code }).toEqual({ target, status: 200, code: undefined });
    expect({ target, policy: opa.paths.get(id) }).toEqual({ target, policy: upstreamPath });
    // Normalised as common servers route: no empty or dot segment, no needless escape.
    expect({ target, upstreamPath }).toEqual({
      target,
      upstreamPath: expect.not.stringMatching(
        /\/\/|(^|\/)\.\.?(\/|$)|%[0-9A-F]?[a-f]|%(3[0-9]|[46][1-9A-F]|[57][0-9A]|2D|2E|5F|7E)/,
      ),
    });
    forwarded.set(id, { target, path: upstreamPath });
  }

  it('through the forward proxy (absolute-form http://)', async () => {
    const send = reusable(() => rawConnect(proxyPort));
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(scheme('http'), userinfo, host, port),
        path,
        query,
        async ([schemeText, user, hostText, portKind], pathText, queryText) => {
          const id = nextId++;
          const authority = `${hostText}${portKind === 'port' ? `:${recorder.httpPort}` : portKind === 'empty' ? ':' : ''}`;
          const target = marked(`${schemeText}://${user}${authority}${pathText}${queryText}`, id);
          const res = await send(
            `GET ${target} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth}\r\n\r\n`,
          );
          check(id, target, res);
        },
      ),
      { numRuns: RUNS_PER_ENTRY },
    );
  });

  it('inside a CONNECT tunnel with TLS (origin-form and absolute-form)', async () => {
    const authority = `127.0.0.1:${recorder.httpsPort}`;
    const send = reusable(() => openTunnel(proxyPort, authority, auth, { ca }));
    const absolute = fc
      .tuple(
        scheme('https'),
        userinfo,
        fc.constantFrom('127.0.0.1', '127.0.0.1', '127.0.0.1.', '[::1]', 'localhost'),
      )
      .map(([s, user, h]) => `${s}://${user}${h}:${recorder.httpsPort}`);
    await fc.assert(
      fc.asyncProperty(
        fc.option(absolute, { nil: '', freq: 2 }),
        path,
        query,
        async (origin, pathText, queryText) => {
          const id = nextId++;
          const target = marked(`${origin}${pathText}${queryText}`, id);
          const res = await send(`GET ${target} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
          check(id, target, res);
        },
      ),
      { numRuns: RUNS_PER_ENTRY },
    );
  });

  it('through /proxy/<url> on the API port', async () => {
    const send = reusable(() => rawConnect(apiPort));
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(scheme('http'), userinfo, host),
        path,
        query,
        async ([schemeText, user, hostText], pathText, queryText) => {
          const id = nextId++;
          const url = `${schemeText}://${user}${hostText}:${recorder.httpPort}${pathText}${queryText}`;
          const target = marked(`/proxy/${url}`, id);
          const res = await send(
            `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${apiPort}\r\nAuthorization: Bearer ${token}\r\nX-Vault: ${VAULT}\r\n\r\n`,
          );
          check(id, target, res);
        },
      ),
      { numRuns: RUNS_PER_ENTRY },
    );
  });

  it('and the audit row of every forwarded case holds the same path', async () => {
    expect(nextId).toBeGreaterThanOrEqual(3 * RUNS_PER_ENTRY);
    // Most cases are forwarded; a generator that only produced refusals would prove nothing.
    expect(forwarded.size).toBeGreaterThan(nextId / 2);
    await gateway.audit.flush();
    const rows: AuditRow[] = [];
    // Newest first, a page at a time.
    let before: string | undefined;
    for (;;) {
      const page = await gateway.audit.query({ vault: VAULT, limit: 1000, before });
      if (page.length === 0) break;
      rows.push(...page);
      before = String(page[page.length - 1].id);
    }
    const audited = new Map<number, string>();
    for (const row of rows) {
      const match = CASE.exec(row.path);
      if (match) audited.set(Number(match[1]), row.path.split('?', 1)[0]);
    }
    const disagreements = [...forwarded]
      .filter(([id, { path }]) => audited.get(id) !== path)
      .map(([id, { target, path }]) => ({ target, upstream: path, audit: audited.get(id) }));
    expect(disagreements).toEqual([]);
  });
});
