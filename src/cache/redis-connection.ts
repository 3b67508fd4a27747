/**
 * One ioredis connection with Vectra's availability rules:
 *
 * - start-up fails fast: if Redis does not answer within the connect timeout, `connectRedis`
 *   rejects with VEC_CACHE_UNAVAILABLE instead of retrying forever, so `vectra serve` stops
 *   with a clear line rather than running without its coordination store;
 * - a later loss is retried with capped, jittered back-off, logged once as a warning when the
 *   connection drops and once at info when it is back (no line per failed attempt);
 * - while the connection is down, commands fail at once (no offline queue, no resending of
 *   commands in flight, which could count an increment twice), so callers can fail closed.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import { describeRedisAddress, type RedisAddressOptions } from './connection-string';

export interface RedisConnectionOptions {
  /** Where to connect, as parsed by `parseRedisConnectionString`. */
  address: RedisAddressOptions;
  logger?: Logger;
  /** Names the connection in logs, e.g. `commands` or `subscriber`. */
  role?: string;
  /**
   * Bound on reaching a ready Redis at start-up (TCP, TLS, AUTH and ready check together).
   * Default: the connection string's `connectTimeout`, else 5000 ms.
   */
  connectTimeoutMs?: number;
  /** Bound on one command, so a hung server fails callers instead of holding them. */
  commandTimeoutMs?: number;
  /** Back-off between reconnection attempts after a loss: doubles from `min` up to `max`. */
  reconnectDelayMs?: { min: number; max: number };
  /** Further ioredis options, applied last. */
  ioredis?: RedisOptions;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
export const DEFAULT_RECONNECT_DELAY_MS = { min: 100, max: 3000 };

/** Connects and resolves once Redis is ready; rejects with VEC_CACHE_UNAVAILABLE otherwise. */
export async function connectRedis(options: RedisConnectionOptions): Promise<Redis> {
  const where = describeRedisAddress(options.address);
  const log = (options.logger ?? silentLogger).child({
    component: 'cache',
    redis: where,
    connection: options.role ?? 'commands',
  });
  const connectTimeoutMs =
    options.connectTimeoutMs ?? options.address.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const delays = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS;
  let started = false;
  let lost = false;
  let lastError: Error | undefined;

  const client = new Redis({
    ...options.address,
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // How long a closing socket may linger before it is destroyed; ioredis' 2 s default would
    // hold the process (and test runs) open after a failed start against a silent server.
    disconnectTimeout: 200,
    // null ends the attempt: no retry loop at start-up, only after the first success.
    retryStrategy: (attempt) => (started ? reconnectDelay(attempt, delays) : null),
    ...options.ioredis,
  });

  // Without a listener ioredis prints every failed attempt to stderr.
  client.on('error', (error: Error) => {
    lastError = error;
    log.debug('Redis connection error', { error: error.message });
  });
  client.on('close', () => {
    // status is 'end' after quit()/disconnect(): a deliberate close, not a loss.
    if (!started || lost || client.status === 'end') return;
    lost = true;
    log.warn(
      `lost the connection to Redis at ${where}; reconnecting, cache commands fail until it is back`,
      { code: 'VEC_CACHE_UNAVAILABLE', error: lastError?.message },
    );
  });
  client.on('ready', () => {
    if (!lost) return;
    lost = false;
    lastError = undefined;
    log.info(`reconnected to Redis at ${where}`);
  });

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (error) {
    // On a closed socket disconnect() would arm a timer nothing clears: only when still open.
    if (client.status !== 'end') client.disconnect();
    // connect() itself only says "Connection is closed."; the 'error' event said why.
    const cause = lastError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const message = `cannot connect to Redis at ${where}: ${reason}`;
    throw new GatewayError('VEC_CACHE_UNAVAILABLE', message, { cause });
  } finally {
    clearTimeout(timer);
  }
  started = true;
  log.debug(`connected to Redis at ${where}`);
  return client;
}

/** Capped exponential back-off with jitter, so replicas do not reconnect in lockstep. */
export function reconnectDelay(attempt: number, delays: { min: number; max: number }): number {
  const ceiling = Math.min(delays.max, delays.min * 2 ** Math.min(attempt - 1, 20));
  return Math.max(delays.min, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
}

/** QUIT when possible (pending replies arrive first), else drop the socket and stop retrying. */
export async function closeRedis(client: Redis): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
  } catch {
    // Down or already closing: nothing to flush.
  }
  // Stops a pending reconnection; skipped when closed already (see the catch in connectRedis).
  if (client.status !== 'end') client.disconnect();
}
