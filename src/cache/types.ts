/**
 * The cache contract: short-lived values, counters and publish/subscribe for coordination
 * between replicas. `Memory` keeps it in this process; `Redis` shares it between replicas.
 */
import type { Redis } from 'ioredis';

export type CacheProviderName = 'Memory' | 'Redis';

export type CacheHealth =
  { status: 'Healthy'; description: string } | { status: 'Degraded'; description: string };

export type MessageHandler = (message: string) => void;

/**
 * Where a library that speaks to its store itself (the rate limiter's rate-limiter-flexible)
 * keeps counters: in this process, or on the Redis cache's command connection under `keyPrefix`.
 * The client belongs to the cache: never close it or subscribe on it.
 */
export type CounterStore = { kind: 'memory' } | { kind: 'redis'; client: Redis; keyPrefix: string };

export interface Cache {
  readonly provider: CacheProviderName;
  get(key: string): Promise<string | null>;
  /** Stores `value`; with `ttlMs` it expires after that many milliseconds. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Returns true when a value was removed. */
  delete(key: string): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) and returns the new value. A missing key counts from 0.
   * With `ttlMs`, a key created by this call expires after that many milliseconds (an existing
   * expiry is kept, so a fixed window stays fixed).
   */
  increment(key: string, by?: number, ttlMs?: number): Promise<number>;
  /**
   * Milliseconds until `key` expires, or null when it is missing or never expires. Lets a fixed
   * window counter (see `increment`) tell a refused caller when to retry.
   */
  timeToLive(key: string): Promise<number | null>;
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function unsubscribes. */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  /** The store for counters named `name`, shared between replicas when the cache is. */
  counterStore(name: string): CounterStore;
  /** Live state for /health: Degraded while a remote cache is unreachable. */
  health(): Promise<CacheHealth>;
  close(): Promise<void>;
}
