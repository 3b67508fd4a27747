import { PassThrough, Readable } from 'node:stream';
import { GatewayError } from '../../src/errors';
import { testContext } from '../helpers/context';
import { MAX_BUFFERED_REDACTION_BYTES } from '../../src/pipeline/redact-response';
import { createForwardStage } from '../../src/pipeline/stages/forward';
import type { EntryPoint, RequestContext } from '../../src/pipeline/types';
import type {
  HeaderMap,
  ProxyRequest,
  UpstreamResponse,
  UpstreamUpgrade,
} from '../../src/http/types';
import type { SendOptions } from '../../src/http/upstream-client';
import { readText as text } from '../helpers/streams';

/** Records what it was asked to send and answers with `answer`. */
function upstream(answer: () => UpstreamResponse) {
  const sent: Array<{ via: 'send' | 'upgrade'; request: ProxyRequest; options?: SendOptions }> = [];
  return {
    sent,
    client: {
      async send(request: ProxyRequest, options?: SendOptions) {
        sent.push({
          via: 'send',
          request: { ...request, headers: { ...request.headers } },
          options,
        });
        return answer();
      },
      async upgrade(request: ProxyRequest): Promise<UpstreamUpgrade> {
        sent.push({ via: 'upgrade', request: { ...request, headers: { ...request.headers } } });
        return {
          status: 101,
          headers: { upgrade: 'websocket', 'x-echo': 'ghp_secret' },
          socket: new PassThrough(),
          head: Buffer.alloc(0),
        };
      },
    },
  };
}

const ok =
  (body: string, headers: HeaderMap = {}): (() => UpstreamResponse) =>
  () => ({
    status: 200,
    headers: { 'content-length': String(body.length), ...headers },
    body: Readable.from([Buffer.from(body)]),
  });

function context(entry: EntryPoint, headers: HeaderMap, upgrade = false): RequestContext {
  return testContext({ entry, request: { port: 8443, path: '/x', headers, upgrade } });
}

describe('forward stage', () => {
  it("never sends Vectra's or hop-by-hop headers upstream, and pins Host", async () => {
    const { client, sent } = upstream(ok('{}'));
    const ctx = context('forward', {
      'proxy-authorization': 'Basic dmVjX2FndF94Og==',
      'x-vectra-debug': '1',
      'X-Vectra-Trace': '1',
      'x-vault': 'prod',
      connection: 'keep-alive, x-hop',
      'x-hop': 'y',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      host: 'elsewhere.example',
      authorization: 'Bearer passthrough-agent-own',
      accept: 'application/json',
    });
    const stage = createForwardStage({}, { upstream: client });
    expect(stage.name).toBe('forward');
    expect(stage.timeoutMs).toBe(Infinity);
    await stage(ctx);
    expect(sent[0].via).toBe('send');
    expect(sent[0].request.headers).toEqual({
      host: 'api.github.com:8443',
      authorization: 'Bearer passthrough-agent-own',
      accept: 'application/json',
    });
  });

  it("drops the reverse route's own Authorization unless inject put a credential there", async () => {
    const { client, sent } = upstream(ok('{}'));
    const stage = createForwardStage({}, { upstream: client });
    await stage(context('reverse', { authorization: 'Bearer vec_agt_abc', accept: '*/*' }));
    expect(sent[0].request.headers.authorization).toBeUndefined();

    const injected = context('reverse', { authorization: 'Bearer ghp_secret' });
    injected.injectedSecrets.push('ghp_secret');
    await stage(injected);
    expect(sent[1].request.headers.authorization).toBe('Bearer ghp_secret');
  });

  it('passes the body untouched (same stream, same length) when nothing was injected', async () => {
    const response = ok('echo ghp_secret')();
    const { client } = upstream(() => response);
    const ctx = context('forward', { 'accept-encoding': 'gzip' });
    await createForwardStage({}, { upstream: client })(ctx);
    const answer = ctx.response as UpstreamResponse;
    expect(answer.body).toBe(response.body);
    expect(answer.headers['content-length']).toBe('15');
  });

  it('redacts an echoed secret from body and headers, asking for an uncompressed body', async () => {
    const { client, sent } = upstream(
      ok('{"auth":"Bearer ghp_secret"}', { 'x-echo': 'ghp_secret', 'x-vectra-error': 'forged' }),
    );
    const ctx = context('tunnel', { 'Accept-Encoding': 'gzip, br' });
    ctx.injectedSecrets.push('ghp_secret');
    await createForwardStage({}, { upstream: client })(ctx);
    expect(sent[0].request.headers['accept-encoding']).toBe('identity');
    const answer = ctx.response as UpstreamResponse;
    // A small plain body is redacted whole and keeps a Content-Length (recomputed).
    expect(answer.headers).toEqual({ 'x-echo': '[REDACTED]', 'content-length': '28' });
    expect(await text(answer.body)).toBe('{"auth":"Bearer [REDACTED]"}');
  });

  it('recomputes Content-Length when redaction changes the length of a small body', async () => {
    const { client } = upstream(ok('{"auth":"Bearer ghp_live_secret"}'));
    const ctx = context('tunnel', {});
    ctx.injectedSecrets.push('ghp_live_secret');
    await createForwardStage({}, { upstream: client })(ctx);
    const answer = ctx.response as UpstreamResponse;
    expect(answer.headers['content-length']).toBe('28');
    expect(await text(answer.body)).toBe('{"auth":"Bearer [REDACTED]"}');
  });

  it('asks the upstream client to read a small body whole only when a secret was injected', async () => {
    const { client, sent } = upstream(ok('{}'));
    const stage = createForwardStage({}, { upstream: client });
    await stage(context('tunnel', {}));
    expect(sent[0].options?.bufferUpTo).toBeUndefined();

    const injected = context('tunnel', {});
    injected.injectedSecrets.push('ghp_secret');
    await stage(injected);
    expect(sent[1].options).toEqual({
      signal: injected.cancellation,
      bufferUpTo: MAX_BUFFERED_REDACTION_BYTES,
    });
  });

  it("passes the request's cancellation, and drops the request when the client went away", async () => {
    let fail!: (err: Error) => void;
    const client = {
      send: jest.fn(() => new Promise<UpstreamResponse>((_, reject) => (fail = reject))),
      upgrade: jest.fn(),
    };
    const stage = createForwardStage({}, { upstream: client });
    const ctx = context('tunnel', {});
    const deciding = stage(ctx);
    expect(client.send).toHaveBeenCalledWith(ctx.request, { signal: ctx.cancellation });
    ctx.cancellation.abort(new GatewayError('VEC_CLIENT_CLOSED'));
    fail(new GatewayError('VEC_CLIENT_CLOSED'));
    expect(await deciding).toEqual({
      kind: 'abort',
      reason: expect.stringContaining('VEC_CLIENT_CLOSED'),
    });
    expect(ctx.response).toBeUndefined();
  });

  it('lets any other upstream failure through to the runner', async () => {
    const client = {
      send: jest.fn(async () => {
        throw new GatewayError('VEC_UPSTREAM_UNREACHABLE');
      }),
      upgrade: jest.fn(),
    };
    const stage = createForwardStage({}, { upstream: client });
    await expect(stage(context('tunnel', {}))).rejects.toMatchObject({
      code: 'VEC_UPSTREAM_UNREACHABLE',
    });
  });

  it('redacts a body the upstream client read whole (bytes), handing on the redacted bytes', async () => {
    const echoed = Buffer.from('{"auth":"Bearer ghp_secret"}');
    const { client } = upstream(() => ({
      status: 200,
      headers: { 'content-length': String(echoed.length), 'x-echo': 'ghp_secret' },
      body: Readable.from([echoed]),
      bytes: echoed,
    }));
    const ctx = context('tunnel', {});
    ctx.injectedSecrets.push('ghp_secret');
    await createForwardStage({}, { upstream: client })(ctx);
    const answer = ctx.response as UpstreamResponse;
    expect(answer.headers).toEqual({ 'x-echo': '[REDACTED]', 'content-length': '28' });
    expect(answer.bytes?.toString()).toBe('{"auth":"Bearer [REDACTED]"}');
    expect(await text(answer.body)).toBe('{"auth":"Bearer [REDACTED]"}');
  });

  it('streams an event stream or a large body, redacted, without Content-Length', async () => {
    const large = `${'x'.repeat(70_000)} ghp_secret`;
    for (const [body, headers] of [
      ['data: ghp_secret\n\n', { 'content-type': 'text/event-stream' }],
      [large, {}],
    ] as const) {
      const { client } = upstream(ok(body, headers));
      const ctx = context('tunnel', {});
      ctx.injectedSecrets.push('ghp_secret');
      await createForwardStage({}, { upstream: client })(ctx);
      const answer = ctx.response as UpstreamResponse;
      expect(answer.headers['content-length']).toBeUndefined();
      expect(await text(answer.body)).toBe(body.replace('ghp_secret', '[REDACTED]'));
    }
  });

  it("fails with the body's own error when a small body breaks while it is read", async () => {
    const body = new PassThrough();
    const { client } = upstream(() => ({ status: 200, headers: { 'content-length': '50' }, body }));
    const ctx = context('tunnel', {});
    ctx.injectedSecrets.push('ghp_secret');
    const pending = createForwardStage({}, { upstream: client })(ctx);
    body.write('{"partial":');
    setImmediate(() => body.destroy(new GatewayError('VEC_RESPONSE_TOO_LARGE')));
    await expect(pending).rejects.toMatchObject({ code: 'VEC_RESPONSE_TOO_LARGE' });
    expect(ctx.response).toBeUndefined();
  });

  it('sends an Upgrade request through upgrade(), keeping the upgrade headers', async () => {
    const { client, sent } = upstream(ok(''));
    const ctx = context(
      'tunnel',
      { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' },
      true,
    );
    ctx.injectedSecrets.push('ghp_secret');
    await createForwardStage({}, { upstream: client })(ctx);
    expect(sent[0].via).toBe('upgrade');
    expect(sent[0].request.headers).toMatchObject({ connection: 'Upgrade', upgrade: 'websocket' });
    expect((ctx.response as UpstreamUpgrade).headers).toMatchObject({
      upgrade: 'websocket',
      'x-echo': '[REDACTED]',
    });
  });

  it('validates its options', () => {
    const { client } = upstream(ok(''));
    expect(createForwardStage({ timeoutMs: 70_000 }, { upstream: client }).timeoutMs).toBe(70_000);
    expect(() => createForwardStage({ timeoutMs: 0 }, { upstream: client })).toThrow(/timeoutMs/);
    expect(() => createForwardStage({}, { upstream: {} as never })).toThrow(/must provide send/);
  });
});
