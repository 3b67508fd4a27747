/**
 * What an audit row may hold: sanitizePath keeps query parameter names and drops their values
 * and fragments; entryFromContext reads named fields only, never headers, credentials or the
 * secrets injected into the request.
 */
import { PassThrough } from 'node:stream';
import { sanitizePath } from '../../src/audit/audit-log';
import { entryFromContext } from '../../src/pipeline/audit-entry';
import type { RequestContext } from '../../src/pipeline/types';
import { agentPrincipal, testContext } from '../helpers/context';

describe('sanitizePath', () => {
  it.each([
    ['/search?q=secret&page=2', '/search?q=&page='],
    ['/v1/items', '/v1/items'],
    ['/v1/items?', '/v1/items'],
    ['/a?flag', '/a?flag='],
    ['/a?x=1&&y=2&', '/a?x=&y='],
    ['/a?token=abc#frag', '/a?token='],
    ['/a#access_token=abc', '/a'],
    ['/a?b=c=d', '/a?b='],
    ['/a?filter%5Bstatus%5D=open', '/a?filter[status]='],
    ['/a?q%3Dsecret', '/a?*='],
    ['/a?%E0%A4%A=1', '/a?*='],
    [`/a?${'n'.repeat(65)}=1`, '/a?*='],
    ['/a?key+name=1', '/a?*='],
    ['*', '*'],
  ])('%s → %s', (input, expected) => {
    expect(sanitizePath(input)).toBe(expected);
  });
});

describe('entryFromContext', () => {
  const secret = 'sk-planted-0123456789';

  function context(overrides: Partial<RequestContext> = {}): RequestContext {
    const ctx = testContext({
      requestId: 'req-1',
      entry: 'tunnel',
      now: () => 1000,
      credentials: { token: secret, vault: 'team' },
      request: {
        method: 'POST',
        host: 'api.example.com',
        path: `/v1/charges?api_key=${secret}`,
        headers: { authorization: `Bearer ${secret}`, cookie: `s=${secret}` },
        body: new PassThrough(),
      },
      principal: agentPrincipal('team'),
      vault: 'team',
    });
    return Object.assign(ctx, {
      service: {
        id: 's1',
        name: 'payments',
        host: 'api.example.com',
        auth: { type: 'bearer', credential: 'KEY' },
        enabled: true,
        createdAt: '',
        updatedAt: '',
      } as unknown as RequestContext['service'],
      injectedSecrets: [secret],
      audit: { decision: 'allow', reason: `matched ${secret}` },
      ...overrides,
    });
  }

  it('takes the named metadata and nothing secret', () => {
    const at = new Date('2030-01-02T03:04:05.000Z');
    const entry = entryFromContext(
      context({
        response: { status: 201, headers: { 'set-cookie': secret }, body: new PassThrough() },
      }),
      { at, latencyMs: 12, bytesIn: 34, bytesOut: 56 },
    );
    expect(entry).toEqual({
      at,
      requestId: 'req-1',
      agent: 'bot',
      vault: 'team',
      method: 'POST',
      host: 'api.example.com',
      port: 443,
      path: `/v1/charges?api_key=${secret}`, // sanitized when recorded (see the contract suite)
      service: 'payments',
      decision: 'allow',
      status: 201,
      latencyMs: 12,
      bytesIn: 34,
      bytesOut: 56,
      errorCode: undefined,
    });
    const { path, ...rest } = entry;
    expect(JSON.stringify(rest)).not.toContain(secret);
    expect(sanitizePath(path)).toBe('/v1/charges?api_key=');
  });

  it('says error when a request ended without a decision or status, and keeps the code', () => {
    const denied = entryFromContext(
      context({ audit: { decision: 'deny', errorCode: 'VEC_UNMATCHED_HOST_DENIED' } }),
      { at: new Date(), latencyMs: 1, bytesIn: 0, bytesOut: 0, status: 403 },
    );
    expect(denied).toMatchObject({
      decision: 'deny',
      status: 403,
      errorCode: 'VEC_UNMATCHED_HOST_DENIED',
    });
    const failed = entryFromContext(
      context({ audit: {}, principal: undefined, vault: undefined }),
      {
        at: new Date(),
        latencyMs: 1,
        bytesIn: 0,
        bytesOut: 0,
      },
    );
    expect(failed).toMatchObject({ decision: 'error', agent: undefined, vault: undefined });
  });
});
