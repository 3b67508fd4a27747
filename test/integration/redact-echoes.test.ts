/**
 * An upstream that echoes the injected credential transformed (letter case, percent-encoding,
 * hex, base64, base64url, base64 inside a larger blob), in a response header and in a body it
 * writes one byte at a time, through a CONNECT tunnel: the agent gets the redaction marker and
 * never any form of the credential, streamed (chunked) or read whole (small, with a length).
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ProxyAgent, request } from 'undici';
import type { Gateway } from '../../src/gateway';
import { echoForms } from '../helpers/echo-forms';
import { localApiKeyVault, startTestGateway } from '../helpers/gateway';
import { basicProxyAuth } from '../helpers/raw-http';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

// A space, +, /, =, ~ and % make every encoding differ from the value.
const SECRET = `ek_${randomBytes(12).toString('hex')} Tok+/=~%Z`;
const FORMS = echoForms(SECRET);
const MARKER = '[REDACTED]';

/** `secret` at byte offset `offset` inside random bytes, all base64 (url when `url`). */
function embedded(secret: string, offset: number, url: boolean): string {
  const blob = Buffer.concat([randomBytes(offset + 3), Buffer.from(secret), randomBytes(5)]);
  return blob.toString(url ? 'base64url' : 'base64');
}

/** The base64 characters that encode only `secret`'s bits at byte offset `offset`. */
function stableBase64(secret: string, offset: number, url: boolean): string {
  const bytes = Buffer.from(secret);
  const text = Buffer.concat([Buffer.alloc(offset), bytes]).toString(url ? 'base64url' : 'base64');
  return text.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('transformed echoes of the injected credential are redacted', () => {
  let upstream: TestUpstream;
  let gateway: Gateway;
  let dispatcher: ProxyAgent;

  beforeAll(async () => {
    upstream = await startUpstream([
      (req, res) => {
        if (req.url !== '/gzip-echo') return false;
        // Compressed although the gateway asked for identity: decoded, redacted, sent plain.
        const form = echoForms(String(req.headers['x-api-key']))['base64 without padding'];
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(JSON.stringify({ echo: [form] })));
        return true;
      },
      (req, res) => {
        const url = new URL(req.url ?? '/', 'https://upstream');
        if (!url.pathname.startsWith('/echo/')) return false;
        const secret = String(req.headers['x-api-key']);
        const name = decodeURIComponent(url.pathname.slice('/echo/'.length));
        const form =
          name === 'embedded'
            ? [0, 1, 2].flatMap((o) => [embedded(secret, o, false), embedded(secret, o, true)])
            : [echoForms(secret)[name]];
        const body = Buffer.from(JSON.stringify({ echo: form }));
        const headers: Record<string, string | number> = {
          'content-type': 'application/json',
          'x-echo': form.join(' '),
        };
        if (url.searchParams.has('whole')) headers['content-length'] = body.length;
        res.writeHead(200, headers);
        void (async () => {
          // One byte per write, each in its own turn of the event loop: a chunk apiece.
          for (const byte of body) {
            res.write(Buffer.from([byte]));
            await nextTurn();
          }
          res.end();
        })();
        return true;
      },
    ]);
    gateway = await startTestGateway({
      System__Proxy__UpstreamCaFile: upstream.caFile,
      System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    });
    const token = await localApiKeyVault(gateway, upstream, 'echoes', 'echoed', SECRET, 'echoer');
    const ca = await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text();
    dispatcher = new ProxyAgent({
      uri: gateway.urls.proxy,
      token: basicProxyAuth(token, 'echoes'),
      requestTls: { ca },
    });
  });

  afterAll(async () => {
    await dispatcher?.close();
    await gateway?.close();
    await upstream?.close();
  });

  async function get(path: string): Promise<{ header: string; body: string; length?: string }> {
    const res = await request(`${upstream.httpsUrl}${path}`, { dispatcher });
    const body = await res.body.text();
    expect(res.statusCode).toBe(200);
    const length = res.headers['content-length'];
    return {
      header: String(res.headers['x-echo']),
      body,
      length: typeof length === 'string' ? length : undefined,
    };
  }

  it.each(Object.keys(FORMS))('the %s form, streamed one byte at a time', async (name) => {
    const { header, body } = await get(`/echo/${encodeURIComponent(name)}`);
    expect(upstream.received.at(-1)?.headers['x-api-key']).toBe(SECRET);
    expect(JSON.parse(body)).toEqual({ echo: [MARKER] });
    expect(header).toBe(MARKER);
    for (const form of Object.values(FORMS)) {
      expect(body).not.toContain(form);
      expect(header).not.toContain(form);
    }
  });

  it.each(Object.keys(FORMS))('the %s form, read whole with its length', async (name) => {
    const { body, length } = await get(`/echo/${encodeURIComponent(name)}?whole`);
    expect(JSON.parse(body)).toEqual({ echo: [MARKER] });
    expect(length).toBe(String(Buffer.byteLength(body)));
  });

  it('a gzip-compressed echo, decoded first', async () => {
    const res = await request(`${upstream.httpsUrl}/gzip-echo`, { dispatcher });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(await res.body.text())).toEqual({ echo: [MARKER] });
    expect(upstream.received.at(-1)?.headers['accept-encoding']).toBe('identity');
  });

  it('its base64 and base64url inside a larger blob, at byte offsets 0, 1 and 2 mod 3', async () => {
    const { header, body } = await get('/echo/embedded');
    const echoes = JSON.parse(body).echo as string[];
    expect(echoes).toHaveLength(6);
    for (const [i, echo] of echoes.entries()) {
      const offset = Math.floor(i / 2);
      const stable = stableBase64(SECRET, offset, i % 2 === 1);
      expect(echo).toContain(MARKER);
      expect(echo).not.toContain(stable);
      expect(header).not.toContain(stable);
    }
  });
});
