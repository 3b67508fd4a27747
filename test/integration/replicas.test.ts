/**
 * Two real `vectra serve` processes sharing one PostgreSQL and one Redis, as replicas behind a
 * load balancer: a token rotated or deleted through one is refused by the other at once.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { exitOf, freshWorkdir, startServe } from '../helpers/cli';
import { createPostgresDatabase, describeWith, sharedReplicaEnv } from '../helpers/services';
import { waitFor } from '../helpers/waiting-and-processes';

const describeWithBoth =
  process.env.VECTRA_TEST_POSTGRES === '1' ? describeWith('redis') : describeWith('postgres');

describeWithBoth('two replicas sharing PostgreSQL and Redis', () => {
  const owner = `vec_adm_${randomBytes(32).toString('base64url')}`;
  let db: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const children: ChildProcessWithoutNullStreams[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    db = await createPostgresDatabase();
    const env = sharedReplicaEnv(db.url, owner, 3);
    // Started together: migrations and the bootstrap token race, and must both come out once.
    const started = await Promise.allSettled(
      [1, 2].map(() => startServe([], { cwd: freshWorkdir(), env })),
    );
    for (const result of started) {
      if (result.status === 'rejected') throw result.reason;
      children.push(result.value.child);
      urls.push(result.value.api);
    }
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    for (const child of children) await exitOf(child);
    await db.drop();
  });

  const call = async (
    url: string,
    token: string,
    method = 'GET',
    path = '/discover',
    body?: unknown,
  ) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
  };

  it('rotation and deletion through one replica take effect on the other at once', async () => {
    const [a, b] = urls;
    expect((await call(a, owner, 'GET', '/v1/admin-tokens')).body.adminTokens).toHaveLength(1);
    expect((await call(a, owner, 'POST', '/v1/vaults', { name: 'shared' })).status).toBe(201);
    const created = await call(a, owner, 'POST', '/v1/agents', {
      name: 'replicated',
      vaults: ['shared'],
    });
    const first = created.body.token as string;

    // Replica B learns the token (and caches the answer).
    expect((await call(b, first)).status).toBe(200);
    expect((await call(b, first)).body.vault).toBe('shared');

    const rotated = (await call(a, owner, 'POST', '/v1/agents/replicated/rotate')).body
      .token as string;
    await waitFor(
      'replica B to refuse the rotated-out token',
      async () => (await call(b, first)).status === 401,
      5000,
    );
    expect((await call(b, rotated)).status).toBe(200);

    expect((await call(a, owner, 'DELETE', '/v1/agents/replicated')).status).toBe(204);
    await waitFor(
      'replica B to refuse the deleted agent',
      async () => (await call(b, rotated)).status === 401,
      5000,
    );
  });

  it('enforces one rate limit across both replicas through the shared Redis', async () => {
    const [a, b] = urls;
    await call(a, owner, 'POST', '/v1/vaults', { name: 'limited' });
    const token = (
      await call(a, owner, 'POST', '/v1/agents', {
        // Rate-limit counters live in the shared Redis: a name of its own per run.
        name: `limited-${randomBytes(4).toString('hex')}`,
        vaults: ['limited'],
      })
    ).body.token;
    const statuses: number[] = [];
    for (const url of [a, b, a, b, a]) {
      // The vault denies unmatched hosts, so nothing leaves the machine; the limit counts anyway.
      const res = await fetch(`${url}/proxy/http://127.0.0.1:9/`, {
        headers: { authorization: `Bearer ${token}` },
      });
      statuses.push(res.status);
      if (res.status === 429) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(statuses).toEqual([403, 403, 403, 429, 429]);
  });

  it("counts an agent's refusals on one replica in the other's risk score", async () => {
    const [a, b] = urls;
    await call(a, owner, 'POST', '/v1/vaults', { name: 'probed' });
    const name = `prober-${randomBytes(4).toString('hex')}`;
    const token = (await call(a, owner, 'POST', '/v1/agents', { name, vaults: ['probed'] })).body
      .token;
    // Refused by replica A (the vault denies unmatched hosts; nothing leaves the machine).
    const refused = await fetch(`${a}/proxy/http://127.0.0.1:9/`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(403);
    const dryRun = () =>
      call(b, owner, 'POST', '/v1/policy/evaluate', {
        agent: name,
        vault: 'probed',
        method: 'GET',
        url: 'http://127.0.0.1:9/',
      });
    // Replica B hears of it through the shared Redis.
    await waitFor(
      "replica B to count replica A's refusal",
      async () =>
        (await dryRun()).body.risk.factors.some(
          (f: { name: string }) => f.name === 'agent.recentDenials',
        ),
      5000,
    );
    const factor = (await dryRun()).body.risk.factors.find(
      (f: { name: string }) => f.name === 'agent.recentDenials',
    );
    expect(factor.detail).toBe('the agent was refused once in the last 10 minutes');
  });
});
