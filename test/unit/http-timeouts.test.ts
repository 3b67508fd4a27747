/** The slow-client options for Node's HTTP servers (src/proxy/http-timeouts.ts). */
import { createServer } from 'node:http';
import { httpTimeoutOptions } from '../../src/proxy/http-timeouts';

describe('httpTimeoutOptions', () => {
  it('passes the timeouts on and checks them at a quarter of the header timeout, at most 1 s', () => {
    expect(
      httpTimeoutOptions(
        { HeadersTimeoutMilliseconds: 30_000, RequestTimeoutMilliseconds: 300_000 },
        'System.Proxy',
      ),
    ).toEqual({
      headersTimeout: 30_000,
      requestTimeout: 300_000,
      connectionsCheckingInterval: 1000,
    });
    const short = httpTimeoutOptions(
      { HeadersTimeoutMilliseconds: 200, RequestTimeoutMilliseconds: 1000 },
      'System.Server',
    );
    expect(short.connectionsCheckingInterval).toBe(50);
    // Node takes them as they are.
    const server = createServer(short);
    expect([server.headersTimeout, server.requestTimeout]).toEqual([200, 1000]);
  });

  it('refuses a header timeout longer than the request timeout, naming the key', () => {
    expect(() =>
      httpTimeoutOptions(
        { HeadersTimeoutMilliseconds: 5000, RequestTimeoutMilliseconds: 1000 },
        'System.Server',
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'VEC_CONFIG_INVALID',
        context: {
          key: 'System.Server.HeadersTimeoutMilliseconds',
          envVar: 'System__Server__HeadersTimeoutMilliseconds',
        },
      }),
    );
  });
});
