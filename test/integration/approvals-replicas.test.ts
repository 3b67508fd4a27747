/**
 * Approvals across real `vectra serve` processes: a request held on replica A is released by a
 * decision made on replica B (through the shared Redis's pub/sub, and through the database poll
 * when that Redis is gone); a replica that shuts down answers its held calls, and calls judged
 * while it drains, pending at once (to be retried on the other replica); and a pending approval
 * outlives a restart of the gateway. Every part is real: the processes, PostgreSQL, Redis (the shared one, or one of the test's own that it
 * kills), SQLite, and an HTTPS upstream that counts what reaches it.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { exitOf, freshWorkdir, startServe, type ServingCli } from '../helpers/cli';
import { json } from '../helpers/gateway';
import { createPostgresDatabase, describeWith, sharedReplicaEnv } from '../helpers/services';
import { startUpstream, type TestUpstream } from '../helpers/upstream';
import {
  RedisServerProcess,
  describeWithRedisServer,
  waitFor,
} from '../helpers/waiting-and-processes';

const SECRET = `sk_live_${randomBytes(16).toString('hex')}`;
const OWNER = `vec_adm_${randomBytes(32).toString('base64url')}`;

interface Answer {
  status: number;
  body: any;
}

async function api(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

/** Settings every gateway here shares: the shipped policies hold writes, the upstream trusted. */
function gatewayEnv(upstream: TestUpstream): Record<string, string> {
  return {
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    System__Proxy__UpstreamCaFile: upstream.caFile,
  };
}

/**
 * Through replica `base`'s API: a vault whose service injects SECRET into calls to the
 * upstream, an agent granted it, and an approver. Returns the agent's name and both tokens.
 */
async function provision(
  base: string,
  upstream: TestUpstream,
): Promise<{ agent: string; agentToken: string; approver: string }> {
  const created = (answer: Answer) => {
    expect([200, 201]).toContain(answer.status);
    return answer.body;
  };
  created(await api(base, OWNER, 'POST', '/v1/vaults', { name: 'writes' }));
  created(await api(base, OWNER, 'PUT', '/v1/vaults/writes/credentials/KEY', { value: SECRET }));
  created(
    await api(base, OWNER, 'POST', '/v1/vaults/writes/services', {
      name: 'local',
      host: `localhost:${upstream.httpsPort}`,
      auth: { type: 'bearer', credential: 'KEY' },
    }),
  );
  // Rate-limit counters live in Redis, shared with other runs: a name of its own.
  const agent = `writer-${randomBytes(4).toString('hex')}`;
  const agentToken = created(
    await api(base, OWNER, 'POST', '/v1/agents', { name: agent, vaults: ['writes'] }),
  ).token as string;
  const approver = created(
    await api(base, OWNER, 'POST', '/v1/admin-tokens', { name: 'alice', role: 'approver' }),
  ).token as string;
  return { agent, agentToken, approver };
}

/** An agent's call through the gateway's `/proxy/` route to the HTTPS upstream. */
function agentCall(
  base: string,
  upstream: TestUpstream,
  agentToken: string,
  path: string,
  body: string,
): Promise<Response> {
  return fetch(`${base}/proxy/${upstream.httpsUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
    body,
  });
}

/** The id of the agent's one pending approval, as `base` lists it, once it is recorded. */
async function pendingApproval(base: string, token: string, agent: string): Promise<string> {
  let ids: string[] = [];
  await waitFor(
    `an approval pending for ${agent}`,
    async () => {
      const listed = await api(base, token, 'GET', `/v1/approvals?status=pending&agent=${agent}`);
      ids = (listed.body?.approvals ?? []).map((a: { id: string }) => a.id);
      return ids.length > 0;
    },
    15_000,
  );
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** What the upstream received for POSTs to `path`. */
const postsTo = (upstream: TestUpstream, path: string) =>
  upstream.received.filter((r) => r.method === 'POST' && r.url === path);

/** SIGTERM, then the exit code; a gateway that hangs in shutdown fails the test by timeout. */
async function stop(serving: ServingCli): Promise<number | null> {
  serving.child.kill('SIGTERM');
  return exitOf(serving.child);
}

describeWith('postgres', 'redis')('approvals across two replicas', () => {
  let upstream: TestUpstream;
  /** Run after each test, last added first: replicas, then the database and Redis under them. */
  let cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    upstream = await startUpstream();
  });

  afterAll(async () => {
    await upstream?.close();
  });

  afterEach(async () => {
    const pending = cleanups.reverse();
    cleanups = [];
    for (const cleanup of pending) await cleanup();
    upstream.received.length = 0;
  });

  /** Two `vectra serve` processes on one fresh PostgreSQL database, started one after the other. */
  async function startReplicas(env: Record<string, string>): Promise<[ServingCli, ServingCli]> {
    const db = await createPostgresDatabase();
    cleanups.push(() => db.drop());
    const replicaEnv = {
      ...sharedReplicaEnv(db.url, OWNER),
      ...gatewayEnv(upstream),
      HumanInTheLoop__HoldSeconds: '25',
      ...env,
    };
    const replicas: ServingCli[] = [];
    for (let i = 0; i < 2; i++) {
      const serving = await startServe([], { cwd: freshWorkdir(), env: replicaEnv });
      cleanups.push(async () => expect(await stop(serving)).toBe(0));
      replicas.push(serving);
    }
    return [replicas[0], replicas[1]];
  }

  /**
   * The flow both tests share: a POST held on A, approved on B (after `beforeApprove`), answered
   * on A with the upstream's 200; the upstream gets it exactly once, with the credential.
   * Returns the milliseconds from sending the approval to B's answer and to A's answer to the
   * held call (logged, never asserted).
   */
  async function heldOnAApprovedOnB(
    a: ServingCli,
    b: ServingCli,
    path: string,
    beforeApprove: () => Promise<void> = async () => undefined,
  ): Promise<{ approve: number; release: number }> {
    const { agent, agentToken, approver } = await provision(a.api, upstream);
    const body = JSON.stringify({ item: path, n: randomBytes(4).toString('hex') });
    let answeredAt = 0;
    const held = agentCall(a.api, upstream, agentToken, path, body).then((res) => {
      answeredAt = performance.now();
      return res;
    });
    const id = await pendingApproval(b.api, approver, agent);
    await beforeApprove();
    expect(answeredAt).toBe(0); // still held

    const approvedAt = performance.now();
    const approved = await api(b.api, approver, 'POST', `/v1/approvals/${id}/approve`, {
      scope: 'once',
    });
    const decidedAt = performance.now();
    expect(approved.status).toBe(200);
    expect(approved.body.approval).toMatchObject({ id, status: 'approved', scope: 'once' });

    const answer = await held;
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-vectra-error')).toBeNull();
    expect(JSON.parse(await answer.text())).toMatchObject({ method: 'POST', url: path });
    const posts = postsTo(upstream, path);
    expect(posts).toHaveLength(1);
    expect(posts[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(posts[0].body).toBe(body);
    expect((await api(b.api, approver, 'GET', `/v1/approvals/${id}`)).body.approval.status).toBe(
      'used',
    );
    return { approve: decidedAt - approvedAt, release: answeredAt - approvedAt };
  }

  it('a POST held on replica A is released by an approval made on replica B', async () => {
    const [a, b] = await startReplicas({});
    const ms = await heldOnAApprovedOnB(a, b, '/pubsub');
    console.log(
      `approve on B answered in ${ms.approve.toFixed(0)} ms; the call held on A answered ${ms.release.toFixed(0)} ms after the approve was sent (pub/sub; PollSeconds 2)`,
    );
  }, 90_000);

  it('a call held on A when A shuts down is answered pending; approved, its retry on B passes', async () => {
    const [a, b] = await startReplicas({});
    const { agent, agentToken, approver } = await provision(a.api, upstream);
    const body = '{"deploy":"v2"}';
    const held = agentCall(a.api, upstream, agentToken, '/deploys', body);
    const id = await pendingApproval(b.api, approver, agent);

    a.child.kill('SIGTERM');
    const answer = await held;
    expect(answer.status).toBe(403);
    expect(answer.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    // Its connection closes with the answer rather than idling until its keep-alive timeout.
    expect(answer.headers.get('connection')).toBe('close');
    expect((await json(answer)).approvalId).toBe(id);
    expect(await exitOf(a.child)).toBe(0);

    expect(
      (await api(b.api, approver, 'POST', `/v1/approvals/${id}/approve`, { scope: 'once' })).status,
    ).toBe(200);
    const retried = await agentCall(b.api, upstream, agentToken, '/deploys', body);
    expect(retried.status).toBe(200);
    const posts = postsTo(upstream, '/deploys');
    expect(posts).toHaveLength(1);
    expect(posts[0].headers.authorization).toBe(`Bearer ${SECRET}`);
  }, 90_000);

  it('a call that reaches the approval stage while A shuts down is answered pending, not held', async () => {
    const [a, b] = await startReplicas({});
    const { agent, agentToken, approver } = await provision(a.api, upstream);
    // The body arrives in two parts: the call is in flight when A starts shutting down, and is
    // judged (and would be held) only after A has answered its held calls.
    const call = httpRequest(`${a.api}/proxy/${upstream.httpsUrl}/late`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${agentToken}`,
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
      },
    });
    const answered = new Promise<{
      status: number;
      error: unknown;
      connection: unknown;
      body: string;
    }>((resolve, reject) => {
      call.on('error', reject);
      call.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            error: res.headers['x-vectra-error'],
            connection: res.headers.connection,
            body,
          }),
        );
      });
    });
    call.write('{"late":');
    // A round trip on another connection: by its end A has read the call's head.
    expect((await fetch(`${a.api}/health`)).ok).toBe(true);

    a.child.kill('SIGTERM');
    await waitFor('A to start shutting down', () => a.stdout.includes('shutting down'));
    const shuttingDown = JSON.parse(
      a.stdout.split('\n').find((line) => line.includes('shutting down'))!,
    );
    expect(shuttingDown.inFlight).toBe(1);
    call.end('true}');

    const answer = await answered;
    expect(answer.status).toBe(403);
    expect(answer.error).toBe('VEC_APPROVAL_PENDING');
    expect(answer.connection).toBe('close');
    const id = JSON.parse(answer.body).approvalId as string;
    expect(await exitOf(a.child)).toBe(0);
    expect(a.stdout).not.toContain('were dropped');
    expect(await pendingApproval(b.api, approver, agent)).toBe(id);
    expect(postsTo(upstream, '/late')).toHaveLength(0);
  }, 90_000);

  describeWithRedisServer()('with Redis killed while the request is held', () => {
    it('replica A still releases it, through the database poll', async () => {
      const redis = await RedisServerProcess.start();
      cleanups.push(() => redis.kill());
      const [a, b] = await startReplicas({
        System__Storage__Cache__Providers__Redis__ConnectionString: redis.address,
        HumanInTheLoop__PollSeconds: '1',
      });
      const ms = await heldOnAApprovedOnB(a, b, '/no-redis', () => redis.kill());
      console.log(
        `Redis killed: approve on B answered in ${ms.approve.toFixed(0)} ms; the call held on A answered ${ms.release.toFixed(0)} ms after the approve was sent (database poll, PollSeconds 1)`,
      );
    }, 90_000);
  });
});

describe('a pending approval across a restart', () => {
  let upstream: TestUpstream;
  const running: ServingCli[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
  });

  afterAll(async () => {
    for (const serving of running) if (serving.child.exitCode === null) await stop(serving);
    await upstream?.close();
  });

  it('is still pending after the gateway restarts; approved, the identical retry passes once', async () => {
    const cwd = freshWorkdir(); // SQLite in ./data, kept across the restart
    const env = {
      ...gatewayEnv(upstream),
      Security__MasterPassword: 'kept across the restart',
      Security__Admin__BootstrapToken: OWNER,
      HumanInTheLoop__HoldSeconds: '0',
    };
    const first = await startServe([], { cwd, env });
    running.push(first);
    const { agent, agentToken, approver } = await provision(first.api, upstream);
    const body = '{"order":42}';
    const pending = await agentCall(first.api, upstream, agentToken, '/orders', body);
    expect(pending.status).toBe(403);
    expect(pending.headers.get('x-vectra-error')).toBe('VEC_APPROVAL_PENDING');
    const id = (await json(pending)).approvalId as string;
    expect(id).toMatch(/^apr_[0-9a-f]+$/);
    expect(await stop(first)).toBe(0);

    const second = await startServe([], { cwd, env });
    running.push(second);
    const listed = await api(second.api, approver, 'GET', `/v1/approvals?status=pending`);
    expect(
      listed.body.approvals.map((a: { id: string; agent: string }) => [a.id, a.agent]),
    ).toEqual([[id, agent]]);
    const approved = await api(second.api, approver, 'POST', `/v1/approvals/${id}/approve`, {
      scope: 'once',
    });
    expect(approved.status).toBe(200);

    const retried = await agentCall(second.api, upstream, agentToken, '/orders', body);
    expect(retried.status).toBe(200);
    const again = await agentCall(second.api, upstream, agentToken, '/orders', body);
    expect(again.status).toBe(403);
    expect((await json(again)).approvalId).not.toBe(id);
    const posts = postsTo(upstream, '/orders');
    expect(posts).toHaveLength(1);
    expect(posts[0].headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(posts[0].body).toBe(body);
  }, 60_000);
});
