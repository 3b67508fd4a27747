/**
 * Redis going away and coming back while Vectra runs. The suite starts its own redis-server so it
 * can kill it: health turns Degraded naming the address, commands fail with
 * VEC_CACHE_UNAVAILABLE (callers fail closed), one warning is logged per connection however long
 * the outage, and after a restart on the same port everything, subscriptions included, works.
 */
import { Redis } from 'ioredis';
import type { Cache } from '../../src/cache/types';
import { RedisCache } from '../../src/cache/redis';
import {
  RedisServerProcess,
  describeWithRedisServer,
  messageInbox,
  recordingLogger,
  uniquePrefix,
  waitFor,
} from '../helpers/waiting-and-processes';

const status = async (cache: Cache): Promise<string> => (await cache.health()).status;

describeWithRedisServer()('Redis outage and recovery', () => {
  let server: RedisServerProcess;
  const logger = recordingLogger();
  let cache: RedisCache;
  let peer: RedisCache;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    const options = {
      connectionString: server.address,
      keyPrefix: uniquePrefix(),
      reconnectDelayMs: { min: 10, max: 100 },
    };
    cache = await RedisCache.connect({ ...options, logger });
    peer = await RedisCache.connect(options);
  });

  afterAll(async () => {
    await Promise.all([cache?.close(), peer?.close()]);
    await server?.kill();
  });

  it('degrades, fails closed, recovers, and delivers to a subscription made before', async () => {
    const inbox = messageInbox();
    await cache.subscribe('wake', inbox.handler);
    await peer.publish('wake', 'before');
    await inbox.received(1);
    await cache.increment('n');
    expect(await cache.health()).toEqual({
      status: 'Healthy',
      description: `Redis at ${server.address} answers`,
    });

    await server.kill();
    // Either connection may notice first; wait for the command connection's view.
    await waitFor('health to report Redis unreachable', async () => {
      const health = await cache.health();
      return health.status === 'Degraded' && health.description.includes('is unreachable');
    });
    expect(await cache.health()).toEqual({
      status: 'Degraded',
      description: `Redis at ${server.address} is unreachable; reconnecting, cache commands fail until it is back`,
    });

    for (const command of [
      () => cache.get('k'),
      () => cache.set('k', 'v'),
      () => cache.increment('n', 1, 1000),
      () => cache.publish('wake', 'lost'),
      () => cache.subscribe('other', () => undefined),
      () => cache.subscribe('wake', () => undefined), // a channel subscribed before the outage
    ]) {
      await expect(command()).rejects.toMatchObject({
        name: 'GatewayError',
        code: 'VEC_CACHE_UNAVAILABLE',
        message: expect.stringContaining(server.address),
      });
    }

    // Several reconnection attempts fail meanwhile (each logged at debug only) …
    const attempts = (): number =>
      logger.lines.filter((l) => l.level === 'debug' && l.message === 'Redis connection error')
        .length;
    await waitFor('several failed reconnection attempts', () => attempts() >= 6);
    // … yet each connection warned exactly once.
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(warnings.map((line) => line.meta.connection).sort()).toEqual(['commands', 'subscriber']);
    expect(warnings[0].message).toBe(
      `lost the connection to Redis at ${server.address}; reconnecting, cache commands fail until it is back`,
    );

    await server.restart();
    await waitFor(
      'both replicas to be Healthy again',
      async () => (await status(cache)) === 'Healthy' && (await status(peer)) === 'Healthy',
    );
    const infos = logger.lines.filter((line) => line.level === 'info');
    expect(infos.map((line) => line.message)).toEqual([
      `reconnected to Redis at ${server.address}`,
      `reconnected to Redis at ${server.address}`,
    ]);

    await peer.publish('wake', 'after');
    await inbox.received(2);
    expect(inbox.messages).toEqual(['before', 'after']);
    // The restarted server is empty and has no scripts cached: increment loads its script again.
    expect(await cache.increment('n', 1, 60_000)).toBe(1);
    expect(await cache.timeToLive('n')).toBeGreaterThan(0);
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(2);
  });

  it('resubscribes when only the subscriber connection was dropped', async () => {
    const inbox = messageInbox();
    await cache.subscribe('solo', inbox.handler);
    const raw = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    await raw.connect();
    try {
      const clients = (await raw.call('CLIENT', 'LIST')) as string;
      const subscriberIds = clients
        .split('\n')
        .filter((line) => /\bsub=[1-9]/.test(line))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1] as string);
      expect(subscriberIds).toHaveLength(1); // the peer never subscribed
      const reconnects = (): number =>
        logger.lines.filter((l) => l.level === 'info' && l.meta.connection === 'subscriber').length;
      const before = reconnects();
      await raw.call('CLIENT', 'KILL', 'ID', subscriberIds[0]);
      await waitFor('the subscriber to reconnect', () => reconnects() > before);
      await waitFor('health to report the subscriptions back', async () => {
        return (await status(cache)) === 'Healthy';
      });
      await peer.publish('solo', 'still here');
      await inbox.received(1);
      expect(inbox.messages).toEqual(['still here']);
    } finally {
      await raw.quit();
    }
  });
});
