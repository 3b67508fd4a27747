/**
 * Regression: a response header whose lower-cased name is an Object.prototype member
 * (`Constructor`) must come back as the upstream sent it, not merged with Object itself.
 */
import { redactUpstreamResponse } from '../../src/pipeline/redact-response';
import { createUpstreamClient } from '../../src/proxy/upstream';
import { loopbackRequest } from '../helpers/context';
import { testConfig } from '../helpers/gateway';
import { loopbackServer } from '../helpers/upstream';

describe('upstream client: a response header named Constructor', () => {
  const origin = loopbackServer((_req, res) => {
    res.setHeader('Constructor', 'x');
    res.end('ok');
  });

  const request = () => loopbackRequest(origin.port);

  it('is kept as its one string value', async () => {
    const upstream = createUpstreamClient({
      ...testConfig().System.Proxy,
      NetworkAllowlist: '127.0.0.0/8',
    });
    const response = await upstream.send(request());
    response.body.resume();
    await upstream.close();
    expect(response.headers.constructor).toBe('x');
  });

  it('does not break echo redaction (bufferUpTo path)', async () => {
    const upstream = createUpstreamClient({
      ...testConfig().System.Proxy,
      NetworkAllowlist: '127.0.0.0/8',
    });
    const response = await upstream.send(request(), { bufferUpTo: 65536 });
    await upstream.close();
    const redacted = await redactUpstreamResponse(response, ['s3cret-value'], 'GET');
    expect(redacted.headers.constructor).toBe('x');
  });
});
