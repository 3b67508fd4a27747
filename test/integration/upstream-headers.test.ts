/**
 * Headers on the way up and down: `stripHopByHop` on its own (a table), then through the client
 * against a real server, which must never see hop-by-hop, proxy or Vectra headers, and whose
 * forged or connection-scoped response headers must not come back.
 */
import type { IncomingMessage } from 'node:http';
import type { HeaderMap } from '../../src/http/types';
import { stripHopByHop } from '../../src/http/hop-by-hop';
import { createUpstreamClient } from '../../src/proxy/upstream';
import { testConfig } from '../helpers/gateway';
import { loopbackServer } from '../helpers/upstream';

describe('stripHopByHop', () => {
  it.each<[string, HeaderMap, HeaderMap]>([
    [
      'the fixed hop-by-hop set',
      {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'proxy-authenticate': 'Basic',
        'proxy-authorization': 'Basic dG9rZW4=',
        te: 'trailers',
        trailer: 'expires',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        accept: '*/*',
      },
      { accept: '*/*' },
    ],
    [
      'headers the Connection header names, in any case and spacing',
      { connection: ' X-One ,x-two', 'x-one': '1', 'x-two': '2', 'x-three': '3' },
      { 'x-three': '3' },
    ],
    [
      'several Connection values',
      { connection: ['x-one', 'close, x-two'], 'x-one': '1', 'x-two': '2', accept: 'a' },
      { accept: 'a' },
    ],
    [
      "Vectra's own headers",
      { 'x-vectra-error': 'VEC_X', 'X-Vectra-Token': 't', 'x-vectraish': 'kept' },
      { 'x-vectraish': 'kept' },
    ],
    [
      'upper-case names (lower-cased in the copy)',
      { 'Proxy-Authorization': 'x', Accept: 'json', 'Set-Cookie': ['a=1', 'b=2'] },
      { accept: 'json', 'set-cookie': ['a=1', 'b=2'] },
    ],
  ])('drops %s', (_what, headers, expected) => {
    expect(stripHopByHop(headers)).toEqual(expected);
  });

  it('keeps Upgrade and answers it with Connection: Upgrade when forwarding an upgrade', () => {
    const headers = { connection: 'Upgrade, x-hop', upgrade: 'websocket', 'x-hop': '1', te: 'x' };
    expect(stripHopByHop(headers, { upgrade: true })).toEqual({
      upgrade: 'websocket',
      connection: 'Upgrade',
    });
    expect(stripHopByHop({ accept: '*/*' }, { upgrade: true })).toEqual({ accept: '*/*' });
  });

  it('leaves its input alone', () => {
    const headers = { connection: 'close', accept: '*/*' };
    stripHopByHop(headers);
    expect(headers).toEqual({ connection: 'close', accept: '*/*' });
  });
});

describe('upstream client: headers on the wire', () => {
  let seen: IncomingMessage | undefined;
  const origin = loopbackServer((req, res) => {
    seen = req;
    res.setHeader('x-vectra-error', 'VEC_FORGED');
    res.setHeader('connection', 'x-private');
    res.setHeader('x-private', 'connection-scoped');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.setHeader('proxy-authenticate', 'Basic realm="upstream"');
    res.end('ok');
  });

  it('sends only end-to-end headers, with Host pinned to the request authority', async () => {
    const upstream = createUpstreamClient({
      ...testConfig().System.Proxy,
      NetworkAllowlist: '127.0.0.0/8',
    });
    const response = await upstream.send({
      method: 'GET',
      scheme: 'http',
      host: '127.0.0.1',
      port: origin.port,
      path: '/h',
      headers: {
        host: 'elsewhere.example',
        connection: 'keep-alive, x-hop',
        'x-hop': 'dropped',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic dmVjX2FndF94Og==',
        'x-vectra-token': 'vec_agt_x',
        te: 'trailers',
        upgrade: 'h2c',
        authorization: 'Bearer injected',
        accept: 'application/json',
      },
      upgrade: false,
    });
    let text = '';
    for await (const chunk of response.body) text += chunk;
    await upstream.close();

    expect(text).toBe('ok');
    const sent = seen!.headers;
    expect(sent.host).toBe(`127.0.0.1:${origin.port}`);
    expect(sent.authorization).toBe('Bearer injected');
    expect(sent.accept).toBe('application/json');
    for (const name of [
      'x-hop',
      'keep-alive',
      'proxy-authorization',
      'x-vectra-token',
      'te',
      'upgrade',
    ]) {
      expect(sent[name]).toBeUndefined();
    }
    // What Node's client adds itself to pool the connection.
    expect(sent.connection).toBe('keep-alive');

    expect(response.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    for (const name of ['x-vectra-error', 'connection', 'x-private', 'proxy-authenticate']) {
      expect(response.headers[name]).toBeUndefined();
    }
  });
});
