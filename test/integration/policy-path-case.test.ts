/**
 * Path rules through the real proxy. Many upstreams route case-insensitively (Express by
 * default), so `/ADMIN/users` reached the route a `/admin` rule was written for: with the policy
 * file's `"defaults": { "ignoreCase": true }`, as the shipped policies use it, every spelling is
 * refused and nothing reaches the upstream. A path longer than the regex input cap cannot be
 * judged by a regex rule and is refused too.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { REGEX_INPUT_LIMIT } from '../../src/policy/safe-regex';
import { json, localBearerVault, startTestGateway } from '../helpers/gateway';
import { policyDocument, rankedRule, when } from '../helpers/policy-documents';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import { tempDir } from '../helpers/temp-dir';

const SECRET = 'path-case-secret-value';

const POLICY = policyDocument(
  'admin-api',
  'Allow',
  [
    rankedRule(100, 'no-admin', 'Deny', 'The admin API is off limits', [
      when('request.path', 'startsWith', '/admin'),
    ]),
    rankedRule(90, 'no-raw-reports', 'Deny', 'Raw reports stay inside', [
      when('request.path', 'regex', '^/reports/[^/]+/raw$'),
    ]),
  ],
  {
    description: 'Shipped style: path rules fold letter case file-wide.',
    defaults: { ignoreCase: true },
  },
);

let dir: string;
let upstream: TestUpstream;
let gateway: Gateway;
let call: (path: string) => Promise<Response>;

beforeAll(async () => {
  dir = tempDir('vectra-path-case-');
  writeFileSync(join(dir, 'admin-api.json'), JSON.stringify(POLICY));
  upstream = await startUpstream();
  gateway = await startTestGateway({
    System__Proxy__UpstreamCaFile: upstream.caFile,
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    Policy__Providers__Internal__Directory: dir,
  });
  const token = await localBearerVault(gateway, upstream, 'team', 'path-bot', SECRET);
  call = (path) =>
    fetch(`${gateway.urls.http}/proxy/${upstream.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  upstream.received.length = 0;
});

describe('path rules through the proxy', () => {
  it('refuses /ADMIN/users under a /admin rule when the file folds case', async () => {
    for (const path of ['/admin/users', '/ADMIN/users', '/Admin/Users']) {
      const res = await call(path);
      expect(res.status).toBe(403);
      expect(await json(res)).toMatchObject({
        code: 'VEC_POLICY_DENIED',
        message: expect.stringContaining('The admin API is off limits'),
      });
    }
    expect((await call('/public/users')).status).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(['/public/users']);
  });

  it('refuses a path longer than the regex input cap, which no regex rule can judge', async () => {
    expect((await call('/REPORTS/q1/RAW')).status).toBe(403);
    const long = await call(`/files/${'a'.repeat(REGEX_INPUT_LIMIT)}`);
    expect(long.status).toBe(403);
    expect(await json(long)).toMatchObject({
      code: 'VEC_POLICY_DENIED',
      message: expect.stringMatching(/no-raw-reports.*could not be judged.*longer than/),
    });
    expect(upstream.received).toEqual([]);
  });
});
