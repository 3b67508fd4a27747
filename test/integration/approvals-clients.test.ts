/**
 * Approvals as real clients meet them through the forward proxy: curl and python3 `requests`
 * send a POST over HTTPS (a CONNECT tunnel, TLS intercepted with Vectra's CA, which the client
 * trusts), under the shipped `read-only-by-default` policies. Held, it is answered with the
 * upstream's answer once an approver approves it over the API; not held, the client gets
 * VEC_APPROVAL_PENDING with the approval's id, and after the approval the identical retry passes
 * once. The HTTPS upstream receives each approved call once, with the injected credential.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  approve as approveOnce,
  startApprovalGateway,
  waitForPending,
  type ApprovalGateway,
} from '../helpers/approvals';
import { curl } from '../helpers/curl';
import { json } from '../helpers/gateway';
import { tempDir } from '../helpers/temp-dir';
import { startUpstream, type TestUpstream } from '../helpers/upstream';

const run = promisify(execFile);
const SECRET = `sk_live_${randomBytes(16).toString('hex')}`;

/**
 * POSTs BODY to URL with `requests`, which takes the proxy from HTTPS_PROXY and the CA bundle
 * from REQUESTS_CA_BUNDLE, and prints `{status, error, body}` as JSON.
 */
const PYTHON_POST = `
import json, os, requests
res = requests.post(os.environ["URL"], data=os.environ["BODY"],
                    headers={"content-type": "application/json"}, timeout=60)
print(json.dumps({"status": res.status_code, "error": res.headers.get("x-vectra-error"),
                  "body": res.text}))
`;

interface ClientAnswer {
  status: number;
  error: string | null;
  body: any;
}

interface Setup extends ApprovalGateway {
  /** `http://<agent token>:<vault>@host:port`, as docs/agents.md says to set HTTPS_PROXY. */
  proxy: string;
  /** Vectra's CA, from GET /v1/ca.pem. */
  caFile: string;
}

describe('approvals with real clients through the forward proxy (HTTPS, intercepted)', () => {
  let upstream: TestUpstream;
  /** HumanInTheLoop.HoldSeconds 25: a write waits for the decision. */
  let holding: Setup;
  /** HumanInTheLoop.HoldSeconds 0: a write is answered VEC_APPROVAL_PENDING at once. */
  let answering: Setup;

  async function setUp(holdSeconds: number): Promise<Setup> {
    const s = await startApprovalGateway(upstream, {
      env: {
        System__Proxy__UpstreamCaFile: upstream.caFile,
        HumanInTheLoop__HoldSeconds: String(holdSeconds),
      },
      secret: SECRET,
      agent: 'client-bot',
      https: true,
    });
    const caFile = join(tempDir('vectra-ca-'), 'vectra-ca.pem');
    writeFileSync(caFile, await (await fetch(`${s.gateway.urls.http}/v1/ca.pem`)).text());
    const proxy = `http://${s.agentToken}:writes@${new URL(s.gateway.urls.proxy!).host}`;
    return { ...s, proxy, caFile };
  }

  beforeAll(async () => {
    upstream = await startUpstream();
    holding = await setUp(25);
    answering = await setUp(0);
  });

  afterAll(async () => {
    await holding?.gateway.close();
    await answering?.gateway.close();
    await upstream?.close();
  });

  beforeEach(() => {
    upstream.received.length = 0;
  });

  /** The id of the one pending approval, once the gateway has recorded it. */
  async function pendingId(s: Setup): Promise<string> {
    const ids = await waitForPending(s, 1, 15_000);
    expect(ids).toHaveLength(1);
    return ids[0];
  }

  async function approve(s: Setup, id: string): Promise<void> {
    const approved = await approveOnce(s, id);
    expect((await json(approved)).approval).toMatchObject({ id, status: 'approved' });
  }

  async function curlPost(s: Setup, path: string, body: string): Promise<ClientAnswer> {
    const res = await curl([
      '--proxy',
      s.proxy,
      '--cacert',
      s.caFile,
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data-binary',
      body,
      '-D',
      '-',
      '--max-time',
      '60',
      `${upstream.httpsUrl}${path}`,
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    // The CONNECT answer's head, then the intercepted answer's head, then the body.
    const heads = res.stdout.split('\r\n\r\n');
    const head = heads.at(-2)!;
    return {
      status: Number(head.match(/^HTTP\/[\d.]+ (\d{3})/)![1]),
      error: head.match(/^x-vectra-error: (.*)$/im)?.[1] ?? null,
      body: JSON.parse(heads.at(-1)!),
    };
  }

  async function pythonPost(s: Setup, path: string, body: string): Promise<ClientAnswer> {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!/_proxy$|_ca_bundle$|^ssl_cert_/i.test(name)) env[name] = value;
    }
    const { stdout } = await run('python3', ['-c', PYTHON_POST], {
      env: {
        ...env,
        HTTPS_PROXY: s.proxy,
        REQUESTS_CA_BUNDLE: s.caFile,
        URL: `${upstream.httpsUrl}${path}`,
        BODY: body,
      },
    });
    const answer = JSON.parse(stdout) as { status: number; error: string | null; body: string };
    return { ...answer, body: JSON.parse(answer.body) };
  }

  /** The upstream got exactly one POST to `path`: `body`, with the injected credential. */
  function expectOnceWithCredential(path: string, body: string): void {
    const posts = upstream.received.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0].url).toBe(path);
    expect(posts[0].body).toBe(body);
    expect(posts[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(posts[0].headers['proxy-authorization']).toBeUndefined();
  }

  for (const [client, post] of [
    ['curl', curlPost],
    ['python3 requests', pythonPost],
  ] as const) {
    it(`${client}: a held POST gets the upstream's answer once it is approved`, async () => {
      const path = `/held/${client.split(' ')[0]}`;
      const body = JSON.stringify({ client, n: randomBytes(4).toString('hex') });
      const answer = post(holding, path, body);
      const id = await pendingId(holding);
      expect(upstream.received).toHaveLength(0);
      await approve(holding, id);

      const got = await answer;
      expect(got.error).toBeNull();
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ method: 'POST', url: path, bodyLength: body.length });
      expect(JSON.stringify(got.body)).not.toContain(SECRET);
      expectOnceWithCredential(path, body);
      const shown = await json(await holding.api('GET', `/v1/approvals/${id}`));
      expect(shown.approval.status).toBe('used');
    }, 60_000);
  }

  it('python3 requests: pending at once with the approval id; approved, the identical retry passes once', async () => {
    const body = JSON.stringify({ order: randomBytes(4).toString('hex') });
    const pending = await pythonPost(answering, '/orders', body);
    expect(pending.status).toBe(403);
    expect(pending.error).toBe('VEC_APPROVAL_PENDING');
    expect(pending.body.code).toBe('VEC_APPROVAL_PENDING');
    const id = pending.body.approvalId as string;
    expect(id).toMatch(/^apr_[0-9a-f]+$/);
    expect(await pendingId(answering)).toBe(id);
    expect(upstream.received).toHaveLength(0);
    await approve(answering, id);

    const retried = await pythonPost(answering, '/orders', body);
    expect(retried.error).toBeNull();
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ method: 'POST', url: '/orders' });
    expectOnceWithCredential('/orders', body);

    // Used up: the same call again asks anew and does not reach the upstream.
    const again = await pythonPost(answering, '/orders', body);
    expect(again.status).toBe(403);
    expect(again.body.approvalId).not.toBe(id);
    expectOnceWithCredential('/orders', body);
  }, 60_000);
});
