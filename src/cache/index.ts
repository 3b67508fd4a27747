/**
 * Opens the configured cache provider. `Memory` suits one replica; `Redis` is required as soon
 * as there are several, since counters, wake-ups and invalidations must reach every replica.
 */
import { ConfigError } from '../errors';
import type { CacheConfig } from '../config/schema';
import { silentLogger, type Logger } from '../observability/types';
import { parseRedisConnectionString } from './connection-string';
import { MemoryCache } from './memory';
import { RedisCache } from './redis';
import type { Cache } from './types';

export interface OpenCacheOptions {
  logger?: Logger;
  /** Prefix of Redis keys and channels; default `vectra:`. Ignored by `Memory`. */
  keyPrefix?: string;
}

const CONNECTION_STRING_KEY = 'System.Storage.Cache.Providers.Redis.ConnectionString';

/**
 * The cache for `config`. With Redis, rejects with VEC_CACHE_UNAVAILABLE when the server does
 * not answer at start-up, and with VEC_CONFIG_INVALID when the connection string is malformed.
 */
export async function openCache(
  config: CacheConfig,
  options: OpenCacheOptions = {},
): Promise<Cache> {
  const logger = options.logger ?? silentLogger;
  if (config.DefaultProvider === 'Memory') return new MemoryCache({ logger });
  const connectionString = config.Providers.Redis.ConnectionString;
  try {
    parseRedisConnectionString(connectionString);
  } catch (error) {
    throw new ConfigError([
      {
        key: CONNECTION_STRING_KEY,
        envVar: CONNECTION_STRING_KEY.replace(/\./g, '__'),
        source: 'config',
        message: (error as Error).message,
      },
    ]);
  }
  return RedisCache.connect({ connectionString, logger, keyPrefix: options.keyPrefix });
}

export type { Cache, CacheHealth, CacheProviderName, CounterStore, MessageHandler } from './types';
export {
  describeRedisAddress,
  parseRedisConnectionString,
  redactRedisConnectionString,
  type RedisAddressOptions,
} from './connection-string';
export { MemoryCache, type MemoryCacheOptions } from './memory';
export { RedisCache, DEFAULT_KEY_PREFIX, type RedisCacheOptions } from './redis';
export { connectRedis, closeRedis, type RedisConnectionOptions } from './redis-connection';
