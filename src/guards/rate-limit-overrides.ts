/**
 * Rate-limit overrides from two sources, applied to the limiter: the configuration
 * (`System.RateLimit.AgentOverrides|VaultOverrides|ServiceOverrides`, fixed for the process's
 * life) and the admin API (`rate_limit_overrides` in the database, shared by every replica).
 * For the same tier and name the API's value wins; removing it reverts to the configured value,
 * if there is one.
 *
 * The limiter keeps the merged set in memory, so no proxied request reads the database. A write
 * goes to the database first, is applied here, then announced on the cache channel
 * `rate-limit-overrides`; every replica (this one too) reloads the stored set and applies it.
 * Reloads run one at a time, in order, so an older read never replaces a newer one. A reload
 * that fails logs a warning and keeps the last applied set. Pub/sub is fire-and-forget (a
 * message sent while Redis was unreachable is lost), so each replica also reloads every
 * `refreshMs` (60 s by default): that bounds how long a missed change can go unnoticed.
 */
import type { Cache } from '../cache/types';
import { GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import type { SqlClient } from '../storage/types';
import type { RateLimiter, RateLimitOverrides } from './rate-limit';
import {
  describeOverride,
  isOverrideTier,
  OVERRIDE_CONFIG_KEYS,
  OVERRIDE_TIERS,
  overrideNameProblem,
  perMinuteProblem,
  type OverrideTier,
} from '../config/rate-limit-override-list';
import {
  compareOverrides,
  createRateLimitOverrideRepository,
  type StoredOverride,
} from './rate-limit-override-repository';

export const OVERRIDES_CHANNEL = 'rate-limit-overrides';
export const DEFAULT_REFRESH_MS = 60_000;

/** One override in effect, and where it comes from. */
export interface OverrideEntry {
  tier: OverrideTier;
  name: string;
  requestsPerMinute: number;
  source: 'config' | 'api';
  /** When the API override was last written (API overrides only). */
  updatedAt?: string;
  /** The configured value an API override hides (what removing it reverts to). */
  configuredRequestsPerMinute?: number;
}

export interface RateLimitOverridesOptions {
  db: SqlClient;
  cache: Pick<Cache, 'publish' | 'subscribe'>;
  limiter: Pick<RateLimiter, 'setOverrides'>;
  /** The overrides of the configuration (configuredOverrides() of rate-limit-override-list.ts). */
  configured: RateLimitOverrides;
  logger?: Logger;
  /** Clock for `updatedAt`. */
  now?: () => Date;
  /** Reload from the database this often besides on change messages; 0: only on messages. */
  refreshMs?: number;
}

export interface RateLimitOverridesService {
  /** Subscribes to change messages, loads the stored overrides and applies them. */
  start(): Promise<void>;
  /** The overrides this replica applies (configured and API, merged), sorted by tier and name. */
  list(): OverrideEntry[];
  /** Stores an API override, applies it, tells the other replicas. VEC_REQUEST_INVALID on bad input. */
  set(tier: string, name: string, requestsPerMinute: unknown): Promise<OverrideEntry>;
  /** Removes an API override; VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND when there is none. */
  remove(tier: string, name: string): Promise<void>;
  /** Reads the stored overrides again and applies them; a failure is logged, not thrown. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

const keyOf = (tier: OverrideTier, name: string): string => `${tier}\u0000${name}`;

/** An own property only: an agent named `constructor` must not find Object.prototype's. */
function own(record: Record<string, number> | undefined, name: string): number | undefined {
  return record !== undefined && Object.hasOwn(record, name) ? record[name] : undefined;
}

/** The configured overrides with the stored ones on top (stored win for the same tier and name). */
export function mergeOverrides(
  configured: RateLimitOverrides,
  stored: readonly Pick<StoredOverride, 'tier' | 'name' | 'requestsPerMinute'>[],
): RateLimitOverrides {
  const merged: Record<OverrideTier, Record<string, number>> = {
    agents: { ...configured.agents },
    vaults: { ...configured.vaults },
    services: { ...configured.services },
  };
  for (const { tier, name, requestsPerMinute } of stored) merged[tier][name] = requestsPerMinute;
  return merged;
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VEC_REQUEST_INVALID', message, { context: { field } });
}

function checkTier(tier: unknown): OverrideTier {
  if (!isOverrideTier(tier)) {
    throw invalid('tier', `tier must be one of: ${OVERRIDE_TIERS.join(', ')}`);
  }
  return tier;
}

function checkName(tier: OverrideTier, name: unknown): string {
  const problem = overrideNameProblem(tier, name);
  if (problem) throw invalid('name', problem);
  return name as string;
}

export function createRateLimitOverrides(
  options: RateLimitOverridesOptions,
): RateLimitOverridesService {
  const { db, cache, limiter, configured } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'rate-limit' });
  const repository = createRateLimitOverrideRepository(db, { now: options.now });
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  let stored = new Map<string, StoredOverride>();
  let unsubscribe: (() => Promise<void>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Work on `stored` runs here one step at a time, in the order it was asked for. */
  let queue: Promise<void> = Promise.resolve();
  let reloadQueued = false;
  const enqueue = (step: () => void | Promise<void>): Promise<void> => {
    const run = queue.then(step);
    queue = run.catch(() => undefined);
    return run;
  };

  function apply(): void {
    limiter.setOverrides(mergeOverrides(configured, [...stored.values()]));
  }

  /** Reads every stored override; rows that could not have been written by set() are skipped. */
  async function load(): Promise<Map<string, StoredOverride>> {
    const rows = await repository.list();
    const next = new Map<string, StoredOverride>();
    for (const row of rows) {
      const problem =
        (isOverrideTier(row.tier) ? undefined : `unknown tier "${row.tier}"`) ??
        overrideNameProblem(row.tier, row.name) ??
        perMinuteProblem(row.requestsPerMinute);
      if (problem) {
        logger.warn('ignoring a stored rate-limit override that is not valid', {
          tier: row.tier,
          name: row.name,
          problem,
        });
        continue;
      }
      next.set(keyOf(row.tier, row.name), row);
    }
    return next;
  }

  /** Queues a reload, unless one is already waiting (it will read the newest state anyway). */
  function reload(): Promise<void> {
    if (reloadQueued) return queue;
    reloadQueued = true;
    return enqueue(async () => {
      reloadQueued = false;
      if (closed) return;
      try {
        stored = await load();
        apply();
      } catch (error) {
        logger.warn('could not reload the rate-limit overrides; the last applied set stays', {
          code: (error as { code?: unknown }).code,
          error: String((error as Error).message ?? error),
        });
      }
    });
  }

  async function announce(tier: OverrideTier, name: string): Promise<void> {
    try {
      await cache.publish(OVERRIDES_CHANNEL, JSON.stringify({ tier, name }));
    } catch (error) {
      logger.error(
        'could not tell the other replicas about a rate-limit override change; they apply it at their next refresh',
        { tier, name, refreshMs, error: String((error as Error).message ?? error) },
      );
    }
  }

  function entryFor(tier: OverrideTier, name: string): OverrideEntry | undefined {
    const configuredValue = own(configured[tier], name);
    const row = stored.get(keyOf(tier, name));
    if (row) {
      return {
        tier,
        name,
        requestsPerMinute: row.requestsPerMinute,
        source: 'api',
        updatedAt: row.updatedAt,
        ...(configuredValue === undefined ? {} : { configuredRequestsPerMinute: configuredValue }),
      };
    }
    if (configuredValue === undefined) return undefined;
    return { tier, name, requestsPerMinute: configuredValue, source: 'config' };
  }

  return {
    async start() {
      // Subscribed before loading, so a change made meanwhile is not missed.
      try {
        unsubscribe = await cache.subscribe(OVERRIDES_CHANNEL, () => void reload());
      } catch (error) {
        logger.error(
          'cannot subscribe to rate-limit override changes; changes made on other replicas apply at each refresh only',
          { refreshMs, error: String((error as Error).message ?? error) },
        );
      }
      await enqueue(async () => {
        stored = await load();
        apply();
      });
      if (refreshMs > 0) {
        timer = setInterval(() => void reload(), refreshMs);
        timer.unref();
      }
      logger.debug('rate-limit overrides applied', { stored: stored.size });
    },

    list() {
      const names = new Set<string>();
      const entries: OverrideEntry[] = [];
      for (const tier of OVERRIDE_TIERS) {
        const candidates = [
          ...Object.keys(configured[tier] ?? {}),
          ...[...stored.values()].filter((row) => row.tier === tier).map((row) => row.name),
        ];
        for (const name of candidates) {
          if (names.has(keyOf(tier, name))) continue;
          names.add(keyOf(tier, name));
          const entry = entryFor(tier, name);
          if (entry) entries.push(entry);
        }
      }
      return entries.sort(compareOverrides);
    },

    async set(tierText, nameText, requestsPerMinute) {
      const tier = checkTier(tierText);
      const name = checkName(tier, nameText);
      const problem = perMinuteProblem(requestsPerMinute, '`requestsPerMinute`');
      if (problem) throw invalid('requestsPerMinute', problem);
      const row = await repository.upsert(tier, name, requestsPerMinute as number);
      await enqueue(() => {
        stored.set(keyOf(tier, name), row);
        apply();
      });
      logger.info(
        `rate-limit override set: ${describeOverride(tier, name)} ${row.requestsPerMinute} per minute`,
        { tier, name, requestsPerMinute: row.requestsPerMinute },
      );
      await announce(tier, name);
      return entryFor(tier, name)!;
    },

    async remove(tierText, nameText) {
      const tier = checkTier(tierText);
      const name = checkName(tier, nameText);
      if (!(await repository.delete(tier, name))) {
        // Someone else removed it: this replica may not have heard yet.
        if (stored.has(keyOf(tier, name))) void reload();
        const configuredValue = own(configured[tier], name);
        const kept =
          configuredValue === undefined
            ? ''
            : `; the configured value (System.RateLimit.${OVERRIDE_CONFIG_KEYS[tier]}: ${configuredValue} per minute) remains in effect and can only be changed in the configuration`;
        throw new GatewayError(
          'VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND',
          `No rate-limit override was set through the API for ${describeOverride(tier, name)}${kept}.`,
          { context: { tier, name } },
        );
      }
      await enqueue(() => {
        stored.delete(keyOf(tier, name));
        apply();
      });
      const now = entryFor(tier, name);
      logger.info(
        `rate-limit override removed: ${describeOverride(tier, name)}` +
          (now ? ` (the configured ${now.requestsPerMinute} per minute applies again)` : ''),
        { tier, name },
      );
      await announce(tier, name);
    },

    reload,

    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      const stop = unsubscribe;
      unsubscribe = undefined;
      await stop?.();
      await queue;
    },
  };
}
