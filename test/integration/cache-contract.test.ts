/**
 * The Cache contract, run against both providers: whatever passes on Memory in development must
 * behave the same on Redis in production. Redis runs for real (REDIS_ADDRESS); each run uses its
 * own key prefix and deletes its keys afterwards.
 */
import { Redis } from 'ioredis';
import { openCache } from '../../src/cache';
import { parseRedisConnectionString } from '../../src/cache/connection-string';
import { MemoryCache } from '../../src/cache/memory';
import { RedisCache } from '../../src/cache/redis';
import type { Cache } from '../../src/cache/types';
import { REDIS_ADDRESS, describeWith, hasRedis } from '../helpers/services';
import { messageInbox, uniquePrefix, waitFor } from '../helpers/waiting-and-processes';

interface Subject {
  name: 'Memory' | 'Redis';
  describe: jest.Describe;
  open(): Promise<Cache>;
  /** Lets `ttlMs` pass for `key`: moves the injected clock, or waits (bounded) for Redis. */
  letExpire(cache: Cache, key: string, ttlMs: number): Promise<void>;
  /** The TTLs the real-time tests may use: long ones for Memory, short ones for Redis. */
  shortTtlMs: number;
  /** How much of a TTL may have passed between the command and the check. */
  slackMs: number;
}

const prefix = uniquePrefix();
let clock = 1_700_000_000_000;
const opened: Cache[] = [];

const subjects: Subject[] = [
  {
    name: 'Memory',
    describe,
    open: async () => new MemoryCache({ now: () => clock, sweepIntervalMs: 0 }),
    letExpire: async (_cache, _key, ttlMs) => {
      clock += ttlMs;
    },
    shortTtlMs: 60_000,
    slackMs: 0,
  },
  {
    name: 'Redis',
    describe: describeWith('redis'),
    open: () => RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix: prefix }),
    letExpire: (cache, key) =>
      waitFor(`${key} to expire`, async () => (await cache.get(key)) === null, 5000),
    shortTtlMs: 50,
    slackMs: 1000,
  },
];

afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()));
  if (!hasRedis()) return;
  // Every key this run wrote, under its prefix (here, so a filtered run cleans up too).
  const raw = new Redis({ ...parseRedisConnectionString(REDIS_ADDRESS), lazyConnect: true });
  await raw.connect();
  const keys: string[] = [];
  for await (const batch of raw.scanStream({ match: `${prefix}*`, count: 500 })) {
    keys.push(...(batch as string[]));
  }
  if (keys.length > 0) await raw.del(...keys);
  await raw.quit();
});

describe.each(subjects)('Cache contract: $name', (subject) => {
  subject.describe(`${subject.name}`, () => {
    let cache: Cache;
    let n = 0;
    /** A fresh key (and channel) name per use, so tests share nothing. */
    const fresh = (what: string): string => `${what}-${++n}-${Date.now()}`;

    beforeAll(async () => {
      cache = await subject.open();
      opened.push(cache);
    });

    it('reports its provider and is healthy', async () => {
      expect(cache.provider).toBe(subject.name);
      expect((await cache.health()).status).toBe('Healthy');
    });

    it('hands counter libraries a store shared exactly when the cache is', () => {
      const store = cache.counterStore('rate-limit');
      if (subject.name === 'Memory') expect(store).toEqual({ kind: 'memory' });
      else
        expect(store).toMatchObject({
          kind: 'redis',
          client: (cache as RedisCache).client,
          keyPrefix: `${prefix}rate-limit`,
        });
    });

    it('gets what was set, null for a missing key, the latest value after a second set', async () => {
      const key = fresh('k');
      expect(await cache.get(key)).toBeNull();
      await cache.set(key, 'one');
      expect(await cache.get(key)).toBe('one');
      await cache.set(key, 'twö ✓');
      expect(await cache.get(key)).toBe('twö ✓');
    });

    it('sets a TTL in milliseconds, and the value is gone once it passed', async () => {
      const key = fresh('ttl');
      await cache.set(key, 'v', 10_000);
      const ttl = await cache.timeToLive(key);
      expect(ttl).toBeGreaterThan(10_000 - subject.slackMs - 1);
      expect(ttl).toBeLessThanOrEqual(10_000);
      const short = fresh('ttl-short');
      await cache.set(short, 'v', subject.shortTtlMs);
      expect(await cache.get(short)).toBe('v');
      await subject.letExpire(cache, short, subject.shortTtlMs);
      expect(await cache.get(short)).toBeNull();
      expect(await cache.timeToLive(short)).toBeNull();
    });

    it('clears the expiry when a key is set again without a TTL', async () => {
      const key = fresh('persist');
      await cache.set(key, 'v', 10_000);
      await cache.set(key, 'w');
      expect(await cache.timeToLive(key)).toBeNull();
    });

    it('refuses a TTL that is not a positive whole number of milliseconds', async () => {
      for (const ttl of [0, -5, 1.5, NaN]) {
        await expect(cache.set(fresh('bad-ttl'), 'v', ttl)).rejects.toThrow(RangeError);
      }
    });

    it('deletes, saying whether there was something to delete', async () => {
      const key = fresh('del');
      await cache.set(key, 'v');
      expect(await cache.delete(key)).toBe(true);
      expect(await cache.get(key)).toBeNull();
      expect(await cache.delete(key)).toBe(false);
    });

    it('increments from 0, by 1 by default, by any whole number otherwise', async () => {
      const key = fresh('count');
      expect(await cache.increment(key)).toBe(1);
      expect(await cache.increment(key, 5)).toBe(6);
      expect(await cache.increment(key, -10)).toBe(-4);
      expect(await cache.get(key)).toBe('-4');
      expect(await cache.timeToLive(key)).toBeNull();
      await expect(cache.increment(key, 0.5)).rejects.toThrow(RangeError);
    });

    it('counts 200 concurrent increments as 200', async () => {
      const key = fresh('concurrent');
      const results = await Promise.all(
        Array.from({ length: 200 }, () => cache.increment(key, 1, 60_000)),
      );
      expect(await cache.get(key)).toBe('200');
      expect([...results].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
    });

    it('sets the TTL only when the increment creates the key (a fixed window stays fixed)', async () => {
      const key = fresh('window');
      await cache.increment(key, 1, 10_000);
      const first = await cache.timeToLive(key);
      expect(first).toBeGreaterThan(10_000 - subject.slackMs - 1);
      await cache.increment(key, 1, 60_000);
      const second = await cache.timeToLive(key);
      expect(second).toBeLessThanOrEqual(first ?? -1);

      // A counter created without a TTL keeps living without one.
      const forever = fresh('forever');
      await cache.increment(forever);
      await cache.increment(forever, 1, 10_000);
      expect(await cache.timeToLive(forever)).toBeNull();
    });

    it('starts a new window with a new TTL once the old one expired', async () => {
      const key = fresh('rewindow');
      await cache.increment(key, 3, subject.shortTtlMs);
      await subject.letExpire(cache, key, subject.shortTtlMs);
      expect(await cache.increment(key, 1, 10_000)).toBe(1);
      expect(await cache.timeToLive(key)).toBeGreaterThan(10_000 - subject.slackMs - 1);
    });

    it('refuses to increment a value that is not an integer, and leaves it alone', async () => {
      const key = fresh('text');
      await cache.set(key, 'abc');
      await expect(cache.increment(key)).rejects.toThrow(/not an integer/);
      expect(await cache.get(key)).toBe('abc');
    });

    it('delivers published messages to every subscriber, in order, asynchronously', async () => {
      const channel = fresh('ch');
      const first = messageInbox();
      const second = messageInbox();
      await cache.subscribe(channel, first.handler);
      await cache.subscribe(channel, second.handler);
      const publishing = cache.publish(channel, 'a');
      expect(first.messages).toEqual([]); // not delivered inside publish()
      await publishing;
      await cache.publish(channel, 'b');
      await cache.publish(channel, 'c');
      await Promise.all([first.received(3), second.received(3)]);
      expect(first.messages).toEqual(['a', 'b', 'c']);
      expect(second.messages).toEqual(['a', 'b', 'c']);
    });

    it('keeps channels apart', async () => {
      const [red, blue] = [fresh('red'), fresh('blue')];
      const redInbox = messageInbox();
      const blueInbox = messageInbox();
      await cache.subscribe(red, redInbox.handler);
      await cache.subscribe(blue, blueInbox.handler);
      await cache.publish(red, 'r');
      await cache.publish(blue, 'b');
      await blueInbox.received(1);
      expect(redInbox.messages).toEqual(['r']);
      expect(blueInbox.messages).toEqual(['b']);
    });

    it('keeps delivering to the other subscribers when a handler throws or rejects', async () => {
      const channel = fresh('faulty');
      const inbox = messageInbox();
      await cache.subscribe(channel, () => {
        throw new Error('handler bug');
      });
      await cache.subscribe(channel, async () => {
        throw new Error('async handler bug');
      });
      await cache.subscribe(channel, inbox.handler);
      await cache.publish(channel, 'one');
      await cache.publish(channel, 'two');
      await inbox.received(2);
      expect(inbox.messages).toEqual(['one', 'two']);
    });

    it('stops delivering after unsubscribe, to that subscriber only', async () => {
      const channel = fresh('unsub');
      const leaving = messageInbox();
      const staying = messageInbox();
      const unsubscribe = await cache.subscribe(channel, leaving.handler);
      await cache.subscribe(channel, staying.handler);
      await cache.publish(channel, 'both');
      await staying.received(1);
      await unsubscribe();
      await unsubscribe(); // idempotent
      await cache.publish(channel, 'one');
      await staying.received(2);
      expect(leaving.messages).toEqual(['both']);
    });

    it('stops delivering once the last subscriber of a channel left, and can subscribe again', async () => {
      const [channel, marker] = [fresh('gone'), fresh('marker')];
      const gone = messageInbox();
      const markers = messageInbox();
      await cache.subscribe(marker, markers.handler);
      const unsubscribe = await cache.subscribe(channel, gone.handler);
      await unsubscribe();
      await cache.publish(channel, 'lost');
      // Delivery keeps publish order, so once the marker is in, 'lost' would have been too.
      await cache.publish(marker, 'm1');
      await markers.received(1);
      expect(gone.messages).toEqual([]);

      const back = messageInbox();
      await cache.subscribe(channel, back.handler);
      await cache.publish(channel, 'again');
      await back.received(1);
      expect(gone.messages).toEqual([]);
    });

    it('is Degraded and refuses commands with VEC_CACHE_UNAVAILABLE once closed', async () => {
      const closing = await subject.open();
      await closing.close();
      await closing.close(); // idempotent
      expect((await closing.health()).status).toBe('Degraded');
      await expect(closing.get('x')).rejects.toMatchObject({ code: 'VEC_CACHE_UNAVAILABLE' });
      await expect(closing.subscribe('x', () => undefined)).rejects.toMatchObject({
        code: 'VEC_CACHE_UNAVAILABLE',
      });
    });
  });
});

describeWith('redis')('Redis cache shared by replicas', () => {
  const address = parseRedisConnectionString(REDIS_ADDRESS);
  let raw: Redis;
  let a: RedisCache;
  let b: RedisCache;

  beforeAll(async () => {
    raw = new Redis({ ...address, lazyConnect: true });
    await raw.connect();
    a = await RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix: prefix });
    b = await RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix: prefix });
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await raw?.quit();
  });

  it('shows one replica the values and counters of the other', async () => {
    await a.set('shared', 'from a', 60_000);
    expect(await b.get('shared')).toBe('from a');
    await Promise.all([
      ...Array.from({ length: 50 }, () => a.increment('shared-count', 1, 60_000)),
      ...Array.from({ length: 50 }, () => b.increment('shared-count', 1, 60_000)),
    ]);
    expect(await a.get('shared-count')).toBe('100');
    expect(await b.delete('shared')).toBe(true);
    expect(await a.get('shared')).toBeNull();
  });

  it("delivers one replica's messages to the other's subscribers", async () => {
    const onA = messageInbox();
    const onB = messageInbox();
    await a.subscribe('invalidate', onA.handler);
    await b.subscribe('invalidate', onB.handler);
    await a.publish('invalidate', 'vault 7');
    await Promise.all([onA.received(1), onB.received(1)]);
    expect(onB.messages).toEqual(['vault 7']);
  });

  it('keeps keys and channels under the prefix, apart from other prefixes', async () => {
    await a.set('where', 'here');
    expect(await raw.get(`${prefix}where`)).toBe('here');
    expect(await raw.get('where')).toBeNull();

    const other = await RedisCache.connect({
      connectionString: REDIS_ADDRESS,
      keyPrefix: `${prefix}other:`,
    });
    try {
      expect(await other.get('where')).toBeNull();
      const inbox = messageInbox();
      await other.subscribe('news', inbox.handler);
      await a.publish('news', 'not for other');
      await other.publish('news', 'for other');
      await inbox.received(1);
      expect(inbox.messages).toEqual(['for other']);
      expect(await raw.pubsub('NUMSUB', `${prefix}other:news`)).toEqual([`${prefix}other:news`, 1]);
    } finally {
      await other.close();
    }
  });

  it('is opened by openCache when the provider is Redis', async () => {
    const cache = await openCache(
      { DefaultProvider: 'Redis', Providers: { Redis: { ConnectionString: REDIS_ADDRESS } } },
      { keyPrefix: prefix },
    );
    try {
      expect(cache.provider).toBe('Redis');
      await cache.set('via-openCache', '1');
      expect(await a.get('via-openCache')).toBe('1');
    } finally {
      await cache.close();
    }
  });
});
