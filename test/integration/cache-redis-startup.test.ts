/**
 * Start-up against a Redis that is not there, not answering, or refusing the password: Vectra
 * must stop at once with VEC_CACHE_UNAVAILABLE naming the address, never retry forever, and
 * never show the password.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { openCache } from '../../src/cache';
import { RedisCache } from '../../src/cache/redis';
import { GatewayError } from '../../src/errors';
import {
  RedisServerProcess,
  describeWithRedisServer,
  freePort,
  recordingLogger,
} from '../helpers/waiting-and-processes';

/** Resolves to the rejection of `promise` and the time it took. */
async function failure(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected a rejection');
}

describe('Redis unreachable at start-up', () => {
  it('fails fast with VEC_CACHE_UNAVAILABLE naming the address when nothing listens', async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const { error, ms } = await failure(
      RedisCache.connect({ connectionString: `127.0.0.1:${port}`, logger }),
    );
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      code: 'VEC_CACHE_UNAVAILABLE',
      statusCode: 503,
      message: expect.stringMatching(
        new RegExp(`^cannot connect to Redis at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
      ),
    });
    expect(ms).toBeLessThan(2000);
    expect(logger.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });

  describe('when the server accepts but never answers', () => {
    let silent: Server;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });

    afterAll(async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    });

    it('gives up after the connect timeout', async () => {
      const { port } = silent.address() as { port: number };
      const { error, ms } = await failure(
        RedisCache.connect({ connectionString: `127.0.0.1:${port},connectTimeout=300` }),
      );
      expect(error).toMatchObject({
        code: 'VEC_CACHE_UNAVAILABLE',
        message: `cannot connect to Redis at 127.0.0.1:${port}: no answer within 300 ms`,
      });
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(2000);
    });
  });

  it('openCache reports a malformed connection string as configuration, without the password', async () => {
    const error = await openCache({
      DefaultProvider: 'Redis',
      Providers: { Redis: { ConnectionString: 'redis:6379,password=hunter2,ssl=perhaps' } },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'VEC_CONFIG_INVALID',
      problems: [
        expect.objectContaining({
          key: 'System.Storage.Cache.Providers.Redis.ConnectionString',
          envVar: 'System__Storage__Cache__Providers__Redis__ConnectionString',
        }),
      ],
    });
    expect(JSON.stringify(error)).not.toContain('hunter2');
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('openCache rejects with VEC_CACHE_UNAVAILABLE when Redis is down', async () => {
    const port = await freePort();
    await expect(
      openCache({
        DefaultProvider: 'Redis',
        Providers: { Redis: { ConnectionString: `redis://127.0.0.1:${port}` } },
      }),
    ).rejects.toMatchObject({ code: 'VEC_CACHE_UNAVAILABLE' });
  });
});

describeWithRedisServer()('Redis refusing the credentials at start-up', () => {
  let server: RedisServerProcess;

  beforeAll(async () => {
    server = await RedisServerProcess.start(['--requirepass', 'right-password']);
  });

  afterAll(async () => {
    await server?.kill();
  });

  it('fails fast with the reason, never the password', async () => {
    const { error, ms } = await failure(
      RedisCache.connect({ connectionString: `redis://:wrong-password@${server.address}` }),
    );
    expect(error).toMatchObject({
      code: 'VEC_CACHE_UNAVAILABLE',
      message: expect.stringMatching(
        new RegExp(`^cannot connect to Redis at ${server.address}: WRONGPASS`),
      ),
    });
    expect((error as Error).message).not.toContain('wrong-password');
    expect(ms).toBeLessThan(2000);
  });

  it('connects with the right password', async () => {
    const cache = await RedisCache.connect({
      connectionString: `${server.address},password=right-password`,
    });
    try {
      expect((await cache.health()).status).toBe('Healthy');
    } finally {
      await cache.close();
    }
  });
});
