import { GatewayError } from '../../src/errors';
import {
  credentialKeys,
  injectCredential,
  setHeader,
  setQueryParameter,
} from '../../src/pipeline/injection';
import type { HeaderMap, ProxyRequest } from '../../src/http/types';
import type { AuthScheme } from '../../src/vault/types';
import { thrownBy } from '../helpers/errors';

const request = (headers: HeaderMap = {}, path = '/v1/items?page=2'): ProxyRequest => ({
  method: 'GET',
  scheme: 'https',
  host: 'api.example.com',
  port: 443,
  path,
  headers,
  upgrade: false,
});

const values = new Map([
  ['TOKEN', 'tok-123456'],
  ['USER', 'alice'],
  ['PASS', 's3cret-pass'],
  ['ORG', 'org-42'],
  ['AMP', 'a&b=c d'],
]);

const refusal = (fn: () => unknown) => thrownBy(fn, GatewayError);

describe('credential injection per scheme', () => {
  it.each<[string, AuthScheme, HeaderMap, string[]]>([
    [
      'bearer',
      { type: 'bearer', credential: 'TOKEN' },
      { authorization: 'Bearer tok-123456' },
      ['tok-123456'],
    ],
    [
      'basic',
      { type: 'basic', username: 'USER', password: 'PASS' },
      { authorization: `Basic ${Buffer.from('alice:s3cret-pass').toString('base64')}` },
      ['alice', 's3cret-pass', Buffer.from('alice:s3cret-pass').toString('base64')],
    ],
    [
      'api-key with a prefix',
      { type: 'api-key', header: 'X-Api-Key', credential: 'TOKEN', prefix: 'Token ' },
      { 'x-api-key': 'Token tok-123456' },
      ['tok-123456'],
    ],
    [
      'api-key without a prefix',
      { type: 'api-key', header: 'X-Api-Key', credential: 'TOKEN' },
      { 'x-api-key': 'tok-123456' },
      ['tok-123456'],
    ],
    [
      'custom templates',
      {
        type: 'custom',
        headers: { 'X-Org': 'org={{ORG}}', Authorization: 'Key {{ TOKEN }}; user={{ USER }}' },
      },
      { 'x-org': 'org=org-42', authorization: 'Key tok-123456; user=alice' },
      ['org-42', 'tok-123456', 'alice'],
    ],
    ['passthrough', { type: 'passthrough' }, {}, []],
  ])('%s', (_, auth, expected, injected) => {
    const req = request();
    expect(injectCredential(req, auth, values)).toEqual(injected);
    expect(req.headers).toEqual(expected);
    expect(req.path).toBe('/v1/items?page=2');
  });

  it('overwrites every case-variant of a header the agent sent', () => {
    const req = request({
      Authorization: 'Bearer agent-own',
      AUTHORIZATION: 'Bearer other',
      'X-API-KEY': 'agent-key',
      accept: 'application/json',
    });
    injectCredential(req, { type: 'bearer', credential: 'TOKEN' }, values);
    injectCredential(req, { type: 'api-key', header: 'x-api-key', credential: 'ORG' }, values);
    expect(req.headers).toEqual({
      authorization: 'Bearer tok-123456',
      'x-api-key': 'org-42',
      accept: 'application/json',
    });
  });

  it('query: sets the parameter, URL-encoded, replacing every copy the agent sent', () => {
    const req = request({}, '/search?q=1&api_key=agent&x=2&api%5Fkey=smuggled&api_key');
    const injected = injectCredential(
      req,
      { type: 'query', param: 'api_key', credential: 'AMP' },
      values,
    );
    expect(req.path).toBe('/search?q=1&api_key=a%26b%3Dc%20d&x=2');
    expect(injected).toEqual(['a&b=c d', 'a%26b%3Dc%20d']);
    expect(req.headers).toEqual({});
  });

  it.each([
    ['/path', 'k', 'v', '/path?k=v'],
    ['/path?', 'k', 'v', '/path?k=v'],
    ['/p?a=1&b=2', 'k', 'v', '/p?a=1&b=2&k=v'],
    ['/p?k=old&a=%zz', 'k', 'new', '/p?k=new&a=%zz'],
  ])('setQueryParameter(%s, %s, %s) = %s', (path, name, value, expected) => {
    expect(setQueryParameter(path, name, value)).toBe(expected);
  });

  it('setHeader lower-cases the name and drops other casings', () => {
    const headers: HeaderMap = { 'X-Token': 'a', 'x-token': 'b' };
    setHeader(headers, 'X-TOKEN', 'c');
    expect(headers).toEqual({ 'x-token': 'c' });
  });

  it.each([
    ['CR', 'abc\rdef'],
    ['LF', 'abc\ndef'],
    ['NUL', 'abc\0def'],
  ])('refuses a value containing %s, without echoing it', (_, bad) => {
    for (const auth of [
      { type: 'bearer', credential: 'BAD' },
      { type: 'query', param: 'k', credential: 'BAD' },
      { type: 'custom', headers: { 'X-A': '{{ BAD }}' } },
    ] as AuthScheme[]) {
      const req = request({ authorization: 'Bearer agent' });
      const error = refusal(() => injectCredential(req, auth, new Map([['BAD', bad]])));
      expect(error.code).toBe('VEC_REQUEST_INVALID');
      expect(error.message).toContain('"BAD"');
      expect(JSON.stringify(error.toJSON())).not.toContain('abc');
    }
  });

  it('refuses other characters a header cannot carry, and a colon in a basic user name', () => {
    const bell = refusal(() =>
      injectCredential(request(), { type: 'bearer', credential: 'K' }, new Map([['K', 'a\x07b']])),
    );
    expect(bell.code).toBe('VEC_REQUEST_INVALID');
    const colon = refusal(() =>
      injectCredential(
        request(),
        { type: 'basic', username: 'U', password: 'P' },
        new Map([
          ['U', 'a:b'],
          ['P', 'pass'],
        ]),
      ),
    );
    expect(colon.code).toBe('VEC_REQUEST_INVALID');
  });

  it('a custom template naming a key that was not resolved is a refusal', () => {
    const error = refusal(() =>
      injectCredential(request(), { type: 'custom', headers: { 'X-A': '{{ NOPE }}' } }, values),
    );
    expect(error.code).toBe('VEC_CREDENTIAL_NOT_FOUND');
    expect(error.message).toContain('NOPE');
  });

  it('credentialKeys lists each key the scheme names, once', () => {
    expect(
      credentialKeys({ type: 'custom', headers: { A: '{{ K }}-{{ L }}', B: '{{K}}' } }),
    ).toEqual(['K', 'L']);
    expect(credentialKeys({ type: 'basic', username: 'U', password: 'P' })).toEqual(['U', 'P']);
    expect(credentialKeys({ type: 'passthrough' })).toEqual([]);
  });
});
