/**
 * Two gateways sharing one PostgreSQL database and one Redis, as replicas behind a load
 * balancer: a rate-limit override set through replica A is enforced by replica B, and removing it
 * through B brings A back to the configured value — each awaited on the other replica's
 * GET /v1/rate-limits, never with a sleep.
 */
import { randomBytes } from 'node:crypto';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from '../helpers/gateway';
import { createPostgresDatabase, describeWith, sharedReplicaEnv } from '../helpers/services';
import { waitFor } from '../helpers/waiting-and-processes';

describeWith('postgres', 'redis')('rate-limit overrides across two replicas', () => {
  const owner = `vec_adm_${randomBytes(32).toString('base64url')}`;
  // Rate-limit counters live in the shared Redis: a name of its own per run.
  const agentName = `replica-bot-${randomBytes(4).toString('hex')}`;
  let db: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const replicas: Gateway[] = [];

  beforeAll(async () => {
    db = await createPostgresDatabase();
    const env = {
      ...sharedReplicaEnv(db.url, owner, 50),
      System__RateLimit__AgentOverrides: `${agentName}=20`,
    };
    replicas.push(await startTestGateway(env));
    replicas.push(await startTestGateway(env));
  });

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await db?.drop();
  });

  const admin = async (replica: Gateway, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${replica.urls.http}${path}`, {
      method,
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  /** The override of `agentName` as `replica` lists it. */
  const listed = async (replica: Gateway) =>
    (await admin(replica, 'GET', '/v1/rate-limits')).body.overrides.find(
      (o: { tier: string; name: string }) => o.tier === 'agents' && o.name === agentName,
    );

  it('PUT on replica A changes the limit replica B enforces; DELETE on B reverts A', async () => {
    const [a, b] = replicas;
    expect((await admin(a, 'POST', '/v1/vaults', { name: 'shared' })).status).toBe(201);
    const created = await admin(a, 'POST', '/v1/agents', { name: agentName, vaults: ['shared'] });
    const token = created.body.token as string;
    // The vault denies unmatched hosts, so nothing leaves the machine; the limit counts anyway.
    const proxied = (replica: Gateway) =>
      fetch(`${replica.urls.http}/proxy/http://127.0.0.1:9/`, {
        headers: { authorization: `Bearer ${token}` },
      });

    expect(await listed(b)).toEqual({
      tier: 'agents',
      name: agentName,
      requestsPerMinute: 20,
      source: 'config',
    });

    const put = await admin(a, 'PUT', `/v1/rate-limits/agents/${agentName}`, {
      requestsPerMinute: 2,
    });
    expect(put.status).toBe(200);
    await waitFor(
      'replica B to list the override set through replica A',
      async () => (await listed(b))?.requestsPerMinute === 2,
      5000,
    );
    expect(await listed(b)).toMatchObject({ source: 'api', configuredRequestsPerMinute: 20 });

    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await proxied(b);
      await res.arrayBuffer();
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get('x-vectra-error')).toBe('VEC_RATE_LIMITED');
        expect(res.headers.get('ratelimit-limit')).toBe('2');
      }
    }
    expect(statuses).toEqual([403, 403, 429]);

    expect((await admin(b, 'DELETE', `/v1/rate-limits/agents/${agentName}`)).status).toBe(204);
    await waitFor(
      'replica A to fall back to the configured value',
      async () => (await listed(a))?.source === 'config',
      5000,
    );
    expect((await listed(a))?.requestsPerMinute).toBe(20);
    const again = await proxied(a);
    await again.arrayBuffer();
    expect(again.status).toBe(403); // within the configured 20 again
    expect(again.headers.get('ratelimit-limit')).toBe('20');
  });
});
