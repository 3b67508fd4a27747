/**
 * What only the memory cache has: an injected clock, lazy expiry and the sweep. The behaviour
 * both providers share is in test/integration/cache-contract.test.ts.
 */
import { MemoryCache } from '../../src/cache/memory';
import { openCache } from '../../src/cache';
import { recordingLogger } from '../helpers/waiting-and-processes';

describe('MemoryCache', () => {
  let now = 1_000;
  const clock = (): number => now;

  afterEach(() => {
    jest.useRealTimers();
  });

  it('expires exactly when the TTL has passed on the injected clock', async () => {
    const cache = new MemoryCache({ now: clock, sweepIntervalMs: 0 });
    await cache.set('k', 'v', 100);
    now += 99;
    expect(await cache.get('k')).toBe('v');
    expect(await cache.timeToLive('k')).toBe(1);
    now += 1;
    expect(await cache.get('k')).toBeNull();
    await cache.close();
  });

  it('drops an expired entry when it is read', async () => {
    const cache = new MemoryCache({ now: clock, sweepIntervalMs: 0 });
    await cache.set('k', 'v', 10);
    now += 10;
    expect(cache.size).toBe(1);
    expect(await cache.delete('k')).toBe(false);
    expect(cache.size).toBe(0);
    await cache.close();
  });

  it('sweeps expired entries nobody reads, on its timer', async () => {
    jest.useFakeTimers();
    const cache = new MemoryCache({ now: clock, sweepIntervalMs: 1000 });
    await cache.set('a', '1', 10);
    await cache.set('b', '2', 5000);
    await cache.set('c', '3');
    now += 10;
    expect(cache.size).toBe(3);
    jest.advanceTimersByTime(1000);
    expect(cache.size).toBe(2);
    expect(cache.sweepExpired()).toBe(0);
    await cache.close();
    expect(jest.getTimerCount()).toBe(0); // close() stops the sweep
  });

  it('logs a failing subscriber with its channel and keeps delivering', async () => {
    const logger = recordingLogger();
    const cache = new MemoryCache({ logger, sweepIntervalMs: 0 });
    const received: string[] = [];
    await cache.subscribe('c', () => {
      throw new Error('boom');
    });
    await cache.subscribe('c', async () => {
      throw new Error('async boom');
    });
    await cache.subscribe('c', (message) => received.push(message));
    await cache.publish('c', 'hello');
    await new Promise((resolve) => setImmediate(resolve)); // microtasks, rejections included
    expect(received).toEqual(['hello']);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.meta)).toEqual([
      { channel: 'c', error: 'Error: boom' },
      { channel: 'c', error: 'Error: async boom' },
    ]);
    await cache.close();
  });

  it('does not deliver a message to a subscriber that left before delivery', async () => {
    const cache = new MemoryCache({ sweepIntervalMs: 0 });
    const received: string[] = [];
    const unsubscribe = await cache.subscribe('c', (message) => received.push(message));
    const publishing = cache.publish('c', 'late');
    await unsubscribe();
    await publishing;
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toEqual([]);
    await cache.close();
  });

  it('counts a handler subscribed twice as two subscriptions, like Redis', async () => {
    const cache = new MemoryCache({ sweepIntervalMs: 0 });
    const received: string[] = [];
    const handler = (message: string): void => void received.push(message);
    const first = await cache.subscribe('c', handler);
    await cache.subscribe('c', handler);
    await cache.publish('c', 'twice');
    await new Promise((resolve) => setImmediate(resolve));
    await first();
    await cache.publish('c', 'once');
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toEqual(['twice', 'twice', 'once']);
    await cache.close();
  });

  it('refuses an increment that would leave the safe integer range', async () => {
    const cache = new MemoryCache({ sweepIntervalMs: 0 });
    await cache.set('big', String(Number.MAX_SAFE_INTEGER));
    await expect(cache.increment('big')).rejects.toThrow(/overflow/);
    await cache.close();
  });

  it('is what openCache returns for the Memory provider', async () => {
    const cache = await openCache({
      DefaultProvider: 'Memory',
      Providers: { Redis: { ConnectionString: 'localhost:6379' } },
    });
    expect(cache).toBeInstanceOf(MemoryCache);
    expect(await cache.health()).toEqual({
      status: 'Healthy',
      description: 'in-process memory cache (not shared between replicas)',
    });
    await cache.close();
  });
});
