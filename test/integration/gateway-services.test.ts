/**
 * The gateway on PostgreSQL and Redis, switched by environment variables exactly as an
 * operator would (`System__Storage__…`), and what /health says when Redis comes and goes.
 */
import { PassThrough } from 'node:stream';
import type { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/observability/logger';
import { json, startTestGateway, testConfig, withTestGateway } from '../helpers/gateway';
import { createPostgresDatabase, describeWith, REDIS_ADDRESS } from '../helpers/services';
import {
  RedisServerProcess,
  describeWithRedisServer,
  freePort,
  waitFor,
} from '../helpers/waiting-and-processes';

async function health(gateway: Gateway): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gateway.urls.http}/health`);
  return { status: res.status, body: await json(res) };
}

/** Starting a gateway with `env` fails with `code`, naming the unreachable 127.0.0.1:`port`. */
async function expectStartRefused(code: string, port: number, env: NodeJS.ProcessEnv) {
  await expect(startTestGateway(env)).rejects.toMatchObject({
    code,
    message: expect.stringContaining(`127.0.0.1:${port}`),
  });
}

// Replicas sharing one PostgreSQL share the master password (a key file would live on one host).
const MASTER_PASSWORD = 'test master password';

describeWith('postgres')('gateway on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createPostgresDatabase>>;
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(() => db.drop());

  it('runs with an Npgsql-style connection string and reports the database check', async () => {
    await withTestGateway(
      {
        System__Storage__Database__DefaultProvider: 'Postgres',
        Security__MasterPassword: MASTER_PASSWORD,
        System__Storage__Database__Providers__Postgres__ConnectionString: `Host=127.0.0.1;Port=5432;Database=${db.name};Username=postgres`,
      },
      async (gateway) => {
        const { status, body } = await health(gateway);
        expect(status).toBe(200);
        expect(body.checks.database).toMatchObject({ status: 'Healthy', description: 'Postgres' });
        expect(await gateway.database.appliedMigrations()).not.toHaveLength(0);
      },
    );
  });

  it('runs with a postgres:// URL', async () => {
    await withTestGateway(
      {
        System__Storage__Database__DefaultProvider: 'Postgres',
        Security__MasterPassword: MASTER_PASSWORD,
        System__Storage__Database__Providers__Postgres__ConnectionString: db.url,
      },
      async (gateway) => {
        expect((await health(gateway)).body.checks.database.description).toBe('Postgres');
      },
    );
  });

  it('refuses to start when PostgreSQL is unreachable, naming the address', async () => {
    const port = await freePort();
    await expectStartRefused('VEC_STORAGE_UNAVAILABLE', port, {
      System__Storage__Database__DefaultProvider: 'Postgres',
      System__Storage__Database__Providers__Postgres__ConnectionString: `Host=127.0.0.1;Port=${port};Database=x;Username=u;Password=pw-planted-1`,
    });
  });
});

describeWith('redis')('gateway on Redis', () => {
  it('uses the shared Redis from a `host:port` connection string', async () => {
    await withTestGateway(
      {
        System__Storage__Cache__DefaultProvider: 'Redis',
        System__Storage__Cache__Providers__Redis__ConnectionString: REDIS_ADDRESS,
      },
      async (gateway) => {
        const { status, body } = await health(gateway);
        expect(status).toBe(200);
        expect(body.checks.cache.status).toBe('Healthy');
        expect(gateway.cache.provider).toBe('Redis');
      },
    );
  });

  it('refuses to start when Redis is unreachable, naming the address', async () => {
    const port = await freePort();
    await expectStartRefused('VEC_CACHE_UNAVAILABLE', port, {
      System__Storage__Cache__DefaultProvider: 'Redis',
      System__Storage__Cache__Providers__Redis__ConnectionString: `127.0.0.1:${port}`,
    });
  });
});

describeWithRedisServer()('gateway when Redis is lost and comes back', () => {
  it('reports Degraded (still 200) while Redis is down, Healthy once it is back', async () => {
    const redis = await RedisServerProcess.start();
    const gateway = await startTestGateway({
      System__Storage__Cache__DefaultProvider: 'Redis',
      System__Storage__Cache__Providers__Redis__ConnectionString: redis.address,
    });
    try {
      expect((await health(gateway)).body.status).toBe('Healthy');
      await redis.kill();
      await waitFor(
        'Degraded health',
        async () => (await health(gateway)).body.status === 'Degraded',
      );
      const down = await health(gateway);
      expect(down.status).toBe(200);
      expect(down.body.checks.cache.status).toBe('Degraded');
      expect(down.body.checks.cache.description).toContain(redis.address);
      await redis.restart();
      await waitFor('Healthy again', async () => (await health(gateway)).body.status === 'Healthy');
    } finally {
      await gateway.close();
      await redis.kill();
    }
  });
});

describe('request ids in log lines', () => {
  it('every log line written while serving a request carries its id', async () => {
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const config = testConfig({ Observability__Logging__DefaultLogLevel: 'Debug' });
    const { logger, close } = createLogger(config.Observability.Logging, {
      stream: output,
      isTTY: false,
    });
    const gateway = await startTestGateway({}, { logger });
    try {
      const res = await fetch(`${gateway.urls.http}/missing`, {
        headers: { 'x-request-id': 'req-abc-123' },
      });
      expect(res.headers.get('x-request-id')).toBe('req-abc-123');
      await waitFor('the refusal log line', () => text.includes('request refused'));
      const line = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => String(e.message).startsWith('request refused'));
      expect(line).toMatchObject({
        requestId: 'req-abc-123',
        code: 'VEC_ROUTE_NOT_FOUND',
        level: 'Information',
      });
    } finally {
      await gateway.close();
      await close();
    }
  });
});
