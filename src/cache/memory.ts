/**
 * The in-process cache: the default for one replica. It mirrors Redis' behaviour where callers
 * can observe it (millisecond TTLs, integer counters, asynchronous pub/sub delivery) so code
 * tested against it behaves the same once Redis is configured.
 */
import { GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import { assertIncrement, assertTtl } from './arguments';
import { deliverMessage } from './deliver';
import type { Cache, CacheHealth, CounterStore, MessageHandler } from './types';

export interface MemoryCacheOptions {
  /** Clock in epoch milliseconds; tests inject one so TTLs expire without sleeping. */
  now?: () => number;
  /** How often expired entries are dropped even when nobody reads them; 0 turns it off. */
  sweepIntervalMs?: number;
  logger?: Logger;
}

interface Entry {
  value: string;
  /** Epoch milliseconds, or null for no expiry. */
  expiresAt: number | null;
}

/** One `subscribe` call; an object so the same handler may be subscribed twice. */
interface Subscription {
  handler: MessageHandler;
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
const INTEGER = /^-?\d+$/;

export class MemoryCache implements Cache {
  readonly provider = 'Memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly channels = new Map<string, Set<Subscription>>();
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: MemoryCacheOptions = {}) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (interval > 0) {
      // unref: a forgotten cache must not keep the process (or a test run) alive.
      this.sweepTimer = setInterval(() => this.sweepExpired(), interval).unref();
    }
  }

  async get(key: string): Promise<string | null> {
    this.assertOpen();
    return this.read(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.assertOpen();
    assertTtl(ttlMs);
    // Like Redis SET, a plain set clears an earlier expiry.
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? null : this.now() + ttlMs });
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.read(key) !== undefined;
    this.entries.delete(key);
    return existed;
  }

  async increment(key: string, by = 1, ttlMs?: number): Promise<number> {
    this.assertOpen();
    assertIncrement(by);
    assertTtl(ttlMs);
    const entry = this.read(key);
    if (entry === undefined) {
      const expiresAt = ttlMs === undefined ? null : this.now() + ttlMs;
      this.entries.set(key, { value: String(by), expiresAt });
      return by;
    }
    const current = INTEGER.test(entry.value) ? Number(entry.value) : NaN;
    if (!Number.isSafeInteger(current)) {
      throw new Error(`cannot increment "${key}": its value is not an integer`);
    }
    const next = current + by;
    if (!Number.isSafeInteger(next)) {
      throw new Error(`cannot increment "${key}": the result would overflow`);
    }
    entry.value = String(next); // the expiry stays: a fixed window stays fixed
    return next;
  }

  async timeToLive(key: string): Promise<number | null> {
    this.assertOpen();
    const entry = this.read(key);
    return entry?.expiresAt == null ? null : entry.expiresAt - this.now();
  }

  async publish(channel: string, message: string): Promise<void> {
    this.assertOpen();
    for (const subscription of this.channels.get(channel) ?? []) {
      // Asynchronous like Redis, so no caller comes to rely on delivery before publish returns.
      queueMicrotask(() => this.deliver(channel, subscription, message));
    }
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    this.assertOpen();
    const subscription: Subscription = { handler };
    let subscriptions = this.channels.get(channel);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.channels.set(channel, subscriptions);
    }
    subscriptions.add(subscription);
    return async () => {
      const current = this.channels.get(channel);
      current?.delete(subscription);
      if (current?.size === 0) this.channels.delete(channel);
    };
  }

  /** Counters stay in this process, as everything else here does. */
  counterStore(): CounterStore {
    return { kind: 'memory' };
  }

  async health(): Promise<CacheHealth> {
    if (this.closed) return { status: 'Degraded', description: 'the memory cache is closed' };
    return {
      status: 'Healthy',
      description: 'in-process memory cache (not shared between replicas)',
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.entries.clear();
    this.channels.clear();
  }

  /** Drops every expired entry; returns how many. Runs on a timer; public for tests. */
  sweepExpired(): number {
    const now = this.now();
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) {
        this.entries.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Number of entries held, expired ones included until read or swept. For tests. */
  get size(): number {
    return this.entries.size;
  }

  /** The live entry, dropping it when expired (lazy expiry). */
  private read(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.expiresAt != null && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private deliver(channel: string, subscription: Subscription, message: string): void {
    // Unsubscribed between publish and delivery: Redis would not deliver either.
    if (!this.channels.get(channel)?.has(subscription)) return;
    deliverMessage(subscription.handler, message, channel, this.logger);
  }

  private assertOpen(): void {
    if (this.closed) throw new GatewayError('VEC_CACHE_UNAVAILABLE', 'the memory cache is closed');
  }
}
