/**
 * The Redis cache, shared by every replica. Keys and channels carry a prefix (default
 * `vectra:`) so Vectra can share a Redis with other applications. Commands use one connection;
 * publish/subscribe needs a second one (a subscribed connection accepts no other commands),
 * opened on the first `subscribe`.
 *
 * Pub/sub is fire-and-forget, as in Redis: a message published while this replica's subscriber
 * connection is down is lost. Subscribers that must not miss a change (cache invalidation,
 * approval wake-ups) should also re-read their source of truth after an outage.
 */
import type { Redis } from 'ioredis';
import { GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import { assertIncrement, assertTtl } from './arguments';
import { describeRedisAddress, parseRedisConnectionString } from './connection-string';
import { deliverMessage } from './deliver';
import { closeRedis, connectRedis, type RedisConnectionOptions } from './redis-connection';
import type { Cache, CacheHealth, CounterStore, MessageHandler } from './types';

export interface RedisCacheOptions extends Omit<
  RedisConnectionOptions,
  'address' | 'role' | 'ioredis'
> {
  /** `host:port[,password=…]` or `redis://…` / `rediss://…`. */
  connectionString: string;
  /** Prepended to every key and channel; default `vectra:`. */
  keyPrefix?: string;
}

export const DEFAULT_KEY_PREFIX = 'vectra:';

/**
 * INCRBY, and PEXPIRE only when this call created the key, in one atomic step: a fixed rate
 * limit window must not slide each time it is counted, and no other replica may slip between.
 */
const INCREMENT_SCRIPT = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value`;

type ScriptedRedis = Redis & {
  vectraIncrement(key: string, by: number, ttlMs: number | ''): Promise<number>;
};

/** One `subscribe` call; an object so the same handler may be subscribed twice. */
interface Subscription {
  handler: MessageHandler;
}

interface Channel {
  subscriptions: Set<Subscription>;
  /** Settles when Redis confirmed SUBSCRIBE; every subscriber of the channel awaits it. */
  active: Promise<void>;
}

export class RedisCache implements Cache {
  readonly provider = 'Redis' as const;
  private readonly commands: ScriptedRedis;
  private readonly channels = new Map<string, Channel>();
  private readonly logger: Logger;
  private subscriber: Redis | undefined;
  private subscriberConnecting: Promise<Redis> | undefined;
  /** False from a subscriber disconnect until its channels are subscribed again. */
  private subscriptionsLive = true;
  private closed = false;

  /** Connects the command connection; rejects with VEC_CACHE_UNAVAILABLE when Redis is down. */
  static async connect(options: RedisCacheOptions): Promise<RedisCache> {
    const { connectionString, keyPrefix, ...rest } = options;
    const connection: RedisConnectionOptions = {
      ...rest,
      address: parseRedisConnectionString(connectionString),
    };
    const commands = await connectRedis({ ...connection, role: 'commands' });
    return new RedisCache(commands, connection, keyPrefix ?? DEFAULT_KEY_PREFIX);
  }

  private constructor(
    commands: Redis,
    private readonly connection: RedisConnectionOptions,
    private readonly prefix: string,
  ) {
    commands.defineCommand('vectraIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    this.commands = commands as ScriptedRedis;
    this.logger = (connection.logger ?? silentLogger).child({
      component: 'cache',
      redis: describeRedisAddress(connection.address),
    });
  }

  /** `host:port` of the server, for messages. */
  get address(): string {
    return describeRedisAddress(this.connection.address);
  }

  /** The command connection, for libraries that speak Redis themselves (rate-limiter-flexible). Owned by this cache: never close it or subscribe on it. */
  get client(): Redis {
    return this.commands;
  }

  get keyPrefix(): string {
    return this.prefix;
  }
  async get(key: string): Promise<string | null> {
    return this.run(() => this.commands.get(this.prefix + key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    assertTtl(ttlMs);
    const name = this.prefix + key;
    await this.run(() =>
      ttlMs === undefined
        ? this.commands.set(name, value)
        : this.commands.set(name, value, 'PX', ttlMs),
    );
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run(() => this.commands.del(this.prefix + key))) > 0;
  }

  async increment(key: string, by = 1, ttlMs?: number): Promise<number> {
    assertIncrement(by);
    assertTtl(ttlMs);
    return this.run(() => this.commands.vectraIncrement(this.prefix + key, by, ttlMs ?? ''));
  }

  async timeToLive(key: string): Promise<number | null> {
    const ms = await this.run(() => this.commands.pttl(this.prefix + key));
    return ms < 0 ? null : ms; // -2: missing, -1: no expiry
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.run(() => this.commands.publish(this.prefix + channel, message));
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    const subscriber = await this.subscriberConnection();
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      const created: Channel = {
        subscriptions: new Set(),
        active: this.run(() => subscriber.subscribe(this.prefix + channel), subscriber).then(
          () => undefined,
        ),
      };
      created.active.catch(() => {
        if (this.channels.get(channel) === created) this.channels.delete(channel);
      });
      this.channels.set(channel, created);
      entry = created;
    } else if (!(subscriber.status === 'ready' && this.subscriptionsLive)) {
      // Its SUBSCRIBE was confirmed before an outage and is not restored yet: fail like a command.
      throw this.unavailable('is unreachable; reconnecting');
    }
    const subscription: Subscription = { handler };
    entry.subscriptions.add(subscription);
    try {
      await entry.active;
    } catch (error) {
      entry.subscriptions.delete(subscription);
      throw error;
    }
    const channelEntry = entry;
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      channelEntry.subscriptions.delete(subscription);
      if (channelEntry.subscriptions.size > 0 || this.channels.get(channel) !== channelEntry)
        return;
      // Removed before UNSUBSCRIBE is sent, so a new subscribe sends its SUBSCRIBE after it.
      this.channels.delete(channel);
      if (this.closed || subscriber.status !== 'ready') return; // the server forgot it already
      await subscriber.unsubscribe(this.prefix + channel).catch((error: unknown) => {
        this.logger.debug('UNSUBSCRIBE failed', { channel, error: String(error) });
      });
    };
  }

  /** Counters on the command connection, under this cache's prefix followed by `name`. */
  counterStore(name: string): CounterStore {
    return { kind: 'redis', client: this.commands, keyPrefix: `${this.prefix}${name}` };
  }

  async health(): Promise<CacheHealth> {
    const where = `Redis at ${this.address}`;
    if (this.closed) return degraded(`${where}: the cache is closed`);
    if (this.commands.status !== 'ready') {
      return degraded(
        `${where} is unreachable; reconnecting, cache commands fail until it is back`,
      );
    }
    const subscriber = this.subscriber;
    if (subscriber && !(subscriber.status === 'ready' && this.subscriptionsLive)) {
      return degraded(`${where}: the subscriber connection is reconnecting; messages are missed`);
    }
    try {
      await this.commands.ping();
    } catch (error) {
      return degraded(`${where} does not answer: ${errorMessage(error)}`);
    }
    return { status: 'Healthy', description: `${where} answers` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subscriber = await this.subscriberConnecting?.catch(() => undefined);
    await Promise.all([closeRedis(this.commands), subscriber && closeRedis(subscriber)]);
    this.channels.clear();
  }

  /** Runs one command; connection faults become VEC_CACHE_UNAVAILABLE so callers fail closed. */
  private async run<T>(command: () => Promise<T>, connection: Redis = this.commands): Promise<T> {
    if (this.closed) throw new GatewayError('VEC_CACHE_UNAVAILABLE', 'the Redis cache is closed');
    try {
      return await command();
    } catch (error) {
      // Redis refusing the command itself (e.g. incrementing a non-integer) is the caller's
      // mistake, not an outage: pass it on unchanged.
      if (
        error instanceof Error &&
        error.name === 'ReplyError' &&
        /^(ERR|WRONGTYPE)\b/.test(error.message)
      ) {
        throw error;
      }
      throw this.unavailable(
        connection.status === 'ready'
          ? `failed the command: ${errorMessage(error)}`
          : 'is unreachable; reconnecting',
        error,
      );
    }
  }

  private unavailable(state: string, cause?: unknown): GatewayError {
    return new GatewayError('VEC_CACHE_UNAVAILABLE', `Redis at ${this.address} ${state}`, {
      cause,
    });
  }

  /** The subscriber connection, opened once; a failed attempt is retried on the next call. */
  private subscriberConnection(): Promise<Redis> {
    if (this.closed) {
      return Promise.reject(new GatewayError('VEC_CACHE_UNAVAILABLE', 'the Redis cache is closed'));
    }
    this.subscriberConnecting ??= connectRedis({
      ...this.connection,
      role: 'subscriber',
      // Resubscribed by hand (see resubscribe) so health() knows when messages flow again.
      ioredis: { autoResubscribe: false },
    }).then(
      (subscriber) => {
        if (this.closed) {
          subscriber.disconnect();
          throw new GatewayError('VEC_CACHE_UNAVAILABLE', 'the Redis cache is closed');
        }
        subscriber.on('message', (channel: string, message: string) =>
          this.onMessage(channel, message),
        );
        subscriber.on('close', () => (this.subscriptionsLive = false));
        // Listeners added after the first 'ready', so this runs on reconnects only.
        subscriber.on('ready', () => void this.resubscribe(subscriber));
        this.subscriber = subscriber;
        return subscriber;
      },
      (error: unknown) => {
        this.subscriberConnecting = undefined;
        throw error;
      },
    );
    return this.subscriberConnecting;
  }

  private async resubscribe(subscriber: Redis): Promise<void> {
    const names = [...this.channels.keys()].map((channel) => this.prefix + channel);
    try {
      if (names.length > 0) await subscriber.subscribe(...names);
      this.subscriptionsLive = subscriber.status === 'ready';
    } catch (error) {
      if (subscriber.status !== 'ready') return; // dropped again; the next 'ready' retries
      // Connected but not subscribed would lose messages silently: start over instead.
      this.logger.error('resubscribing after a reconnect failed; reconnecting', {
        error: errorMessage(error),
      });
      subscriber.disconnect(true);
    }
  }

  private onMessage(name: string, message: string): void {
    if (!name.startsWith(this.prefix)) return;
    const channel = name.slice(this.prefix.length);
    const entry = this.channels.get(channel);
    if (entry === undefined) return;
    for (const subscription of [...entry.subscriptions]) {
      // A handler may unsubscribe another one; that one then gets nothing more.
      if (entry.subscriptions.has(subscription)) {
        deliverMessage(subscription.handler, message, channel, this.logger);
      }
    }
  }
}

function degraded(description: string): CacheHealth {
  return { status: 'Degraded', description };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
