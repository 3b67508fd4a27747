/**
 * What the policy judged is what goes upstream, through the real proxy: an absolute-form target
 * inside a CONNECT tunnel (plain and TLS) is bound to the tunnel and rewritten to origin-form;
 * `//admin` and dot segments are normalised before the policy sees them; a path with encoded
 * slashes is judged with them decoded too. A rule denies `/admin`; the upstream must never see
 * a request under it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { waitForAuditRow } from '../helpers/audit';
import { startTestGateway } from '../helpers/gateway';
import {
  openTunnel,
  passthroughAgent,
  rawConnect,
  type RawConnection,
  type RawResponse,
} from '../helpers/raw-http';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const VAULT = 'canon';

function policyDirectory(): string {
  const dir = tempDir('vectra-canon-policies-');
  const policy = {
    name: 'no-admin',
    default: 'Allow',
    rules: [
      {
        name: 'admin-denied',
        reason: 'The admin area is off limits',
        effect: 'Deny',
        conditions: [{ field: 'request.path', operator: 'startsWith', value: '/admin' }],
      },
    ],
  };
  writeFileSync(join(dir, 'no-admin.json'), JSON.stringify(policy));
  return dir;
}

describe('one canonical request-target', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let proxyPort: number;
  let apiPort: number;
  let auth: string;
  let token: string;
  let ca: string;
  const open: RawConnection[] = [];

  beforeAll(async () => {
    upstream = await startUpstream([], { host: '127.0.0.1' });
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8',
      Policy__Providers__Internal__Directory: policyDirectory(),
    });
    ({ token, auth, proxyPort, apiPort, ca } = await passthroughAgent(gateway, VAULT, 'canon-bot'));
  });

  afterAll(async () => {
    for (const connection of open) connection.close();
    await gateway?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.received.length = 0;
  });

  const tunnel = async (tls: boolean) => {
    const port = tls ? upstream.httpsPort : upstream.httpPort;
    const connection = await openTunnel(
      proxyPort,
      `127.0.0.1:${port}`,
      auth,
      tls ? { ca } : undefined,
    );
    open.push(connection);
    return { connection, authority: `127.0.0.1:${port}`, scheme: tls ? 'https' : 'http' };
  };

  const get = (connection: RawConnection, target: string, host: string, extra = '') =>
    connection.request(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`);

  const refusedWith = (res: RawResponse, status: number, code: string) => {
    expect({ status: res.status, code: res.headers['x-vectra-error'] }).toEqual({ status, code });
  };

  const auditRow = (path: string) => waitForAuditRow(gateway, VAULT, path);

  describe.each([false, true])('inside a CONNECT tunnel (TLS: %s)', (tls) => {
    it('judges an absolute-form target for the tunnel by its path: /admin is denied', async () => {
      const { connection, authority, scheme } = await tunnel(tls);
      const res = await get(connection, `${scheme}://${authority}/admin/users`, authority);
      refusedWith(res, 403, 'VEC_POLICY_DENIED');
      expect(upstream.received).toHaveLength(0);
      expect((await auditRow('/admin/users')).decision).toBe('deny');
    });

    it('sends an allowed absolute-form target upstream in origin-form', async () => {
      const { connection, authority, scheme } = await tunnel(tls);
      const res = await get(connection, `${scheme}://${authority}/ok//x/./y?q=1`, authority);
      expect(res.status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/ok/x/y?q=1']);
    });

    it('refuses an absolute-form target for another authority or scheme, and keeps the tunnel', async () => {
      const { connection, authority, scheme } = await tunnel(tls);
      const other = scheme === 'https' ? 'http' : 'https';
      for (const target of [
        `${scheme}://evil.attacker.test/admin?x=1`,
        `${scheme}://127.0.0.1:1/admin`,
        `${other}://${authority}/admin`,
        `${scheme}://user@${authority}/x`,
      ]) {
        refusedWith(await get(connection, target, authority), 400, 'VEC_REQUEST_INVALID');
      }
      // The tunnel still serves requests for its own authority.
      expect((await get(connection, '/after', authority)).status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/after']);
    });

    it('denies //admin and dot-segment spellings of /admin, and sends normalised paths', async () => {
      const { connection, authority } = await tunnel(tls);
      for (const target of [
        '//admin/users',
        '/x/../admin',
        '/%2e%2e/admin',
        '/./admin/',
        '/%61dmin',
      ]) {
        refusedWith(await get(connection, target, authority), 403, 'VEC_POLICY_DENIED');
      }
      expect(upstream.received).toHaveLength(0);
      expect((await get(connection, '/a//b/./c/../d', authority)).status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/a/b/d']);
      expect((await auditRow('/a/b/d')).decision).toBe('allow');
    });

    it('refuses asterisk-form and broken escapes with a code', async () => {
      const { connection, authority } = await tunnel(tls);
      const star = await connection.request(`OPTIONS * HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      refusedWith(star, 400, 'VEC_REQUEST_INVALID');
      refusedWith(await get(connection, '/a%zz', authority), 400, 'VEC_REQUEST_INVALID');
      refusedWith(
        await get(connection, '/public/..;/admin', authority),
        400,
        'VEC_REQUEST_INVALID',
      );
      expect(upstream.received).toHaveLength(0);
    });
  });

  describe('encoded slashes', () => {
    it('stay encoded on the wire, and a Deny on the decoded path wins', async () => {
      const { connection, authority } = await tunnel(true);
      const denied = await get(connection, '/files/..%2F..%2Fadmin/users', authority);
      refusedWith(denied, 403, 'VEC_POLICY_DENIED');
      expect(JSON.parse(denied.body).message).toContain('judged as /admin/users');
      refusedWith(
        await get(connection, '/files/x%5c..%5c..%5cadmin', authority),
        403,
        'VEC_POLICY_DENIED',
      );
      expect(upstream.received).toHaveLength(0);
      expect((await get(connection, '/files/a%2fb%5Cc', authority)).status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/files/a%2Fb%5Cc']);
    });
  });

  describe('the forward proxy (absolute-form http://)', () => {
    it('denies //admin and sends the normalised path', async () => {
      const connection = await rawConnect(proxyPort);
      open.push(connection);
      const authority = `127.0.0.1:${upstream.httpPort}`;
      const extra = `Proxy-Authorization: ${auth}\r\n`;
      refusedWith(
        await get(connection, `http://${authority}//admin/users`, authority, extra),
        403,
        'VEC_POLICY_DENIED',
      );
      refusedWith(
        await get(connection, `http://user:pw@${authority}/x`, authority, extra),
        400,
        'VEC_REQUEST_INVALID',
      );
      // Asterisk-form and origin-form are not for a forward proxy.
      const star = await connection.request(
        `OPTIONS * HTTP/1.1\r\nHost: ${authority}\r\n${extra}\r\n`,
      );
      refusedWith(star, 400, 'VEC_REQUEST_MALFORMED');
      refusedWith(await get(connection, '/x', authority, extra), 400, 'VEC_REQUEST_MALFORMED');
      expect(upstream.received).toHaveLength(0);
      const res = await get(connection, `http://${authority}//ok//x/%7e`, authority, extra);
      expect(res.status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/ok/x/~']);
      expect((await auditRow('/ok/x/~')).decision).toBe('allow');
    });
  });

  describe('the reverse route (/proxy/<url>)', () => {
    it('denies //admin and sends the normalised path', async () => {
      const connection = await rawConnect(apiPort);
      open.push(connection);
      const origin = `http://127.0.0.1:${upstream.httpPort}`;
      const extra = `Authorization: Bearer ${token}\r\nX-Vault: ${VAULT}\r\n`;
      const host = `127.0.0.1:${apiPort}`;
      refusedWith(
        await get(connection, `/proxy/${origin}//admin/users`, host, extra),
        403,
        'VEC_POLICY_DENIED',
      );
      refusedWith(
        await get(connection, `/proxy/${origin}/x/%2E%2E/admin`, host, extra),
        403,
        'VEC_POLICY_DENIED',
      );
      expect(upstream.received).toHaveLength(0);
      const res = await get(connection, `/proxy/${origin}/rev//a/../b`, host, extra);
      expect(res.status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/rev/b']);
    });
  });
});
