/**
 * Per-agent rate limits (System.RateLimit), counted by rate-limiter-flexible in fixed 60-second
 * windows of `perMinute + Burst`; the most specific override (service > vault > agent > default)
 * wins and counts in its own per-agent counter. With Redis the counters are shared; when Redis
 * fails, an in-memory insurance limiter with the same limit counts instead (never a 429 for a
 * store error, never unlimited). The model, the counters and the outage behaviour:
 * docs/guards.md, "How the counting works".
 */
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
  type RateLimiterStoreAbstract,
} from 'rate-limiter-flexible';
import { BoundedMemo } from '../bounded-memo';
import type { RateLimitConfig } from '../config/schema';
import { GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';

export const RATE_LIMIT_WINDOW_SECONDS = 60;
/** Redis keys are `<prefix>:<counter>`; the prefix matches the cache's default `vectra:`. */
export const DEFAULT_RATE_LIMIT_KEY_PREFIX = 'vectra:rate-limit';
export const INSURANCE_METRIC_NAME = 'vectra_rate_limit_insurance_total';
/** What the counters count up to: above any limit (limits are whole numbers up to 2^31 − 1). */
const COUNT_CEILING = 2 ** 31;

/** Requests per minute, by agent name, vault name, and service (`<service>` or `<vault>/<service>`). */
export interface RateLimitOverrides {
  agents?: Record<string, number>;
  vaults?: Record<string, number>;
  services?: Record<string, number>;
}

export type RateLimitStore =
  | { kind: 'memory' }
  /**
   * `client` is owned by the caller (the Redis cache's command connection): it should fail
   * commands at once while disconnected (enableOfflineQueue: false) and have a command timeout,
   * so an outage reaches the insurance limiter quickly.
   */
  | { kind: 'redis'; client: Redis; keyPrefix?: string };

export interface RateLimiterOptions {
  /** The default rate and the burst; overrides come as `overrides` (parsed), not as config text. */
  config: Pick<RateLimitConfig, 'DefaultRequestsPerMinute' | 'Burst'>;
  overrides?: RateLimitOverrides;
  store: RateLimitStore;
  /** Registers `vectra_rate_limit_insurance_total` here (the gateway's /metrics registry). */
  metrics?: Registry;
  logger?: Logger;
  /** Epoch milliseconds; only for `resetAt` (rate-limiter-flexible keeps its own clock). */
  now?: () => number;
}

/** Who is counted, and where the request goes (as far as it is known). */
export interface RateLimitSubject {
  /** The agent's name; null or undefined for a session minted without an agent. */
  agentName?: string | null;
  /** Counted under when there is no agent name. */
  sessionId?: string;
  vault?: string;
  /** The service's name within `vault`, once known. */
  service?: string;
}

export type RateLimitTier = 'service' | 'vault' | 'agent' | 'default';

export interface RateLimitRule {
  tier: RateLimitTier;
  perMinute: number;
  burst: number;
  /** Requests allowed per window: perMinute + burst. */
  limit: number;
  windowSeconds: number;
  /** The counter's key (without the store prefix). */
  key: string;
  /** One phrase: `60 requests per 60 s for agent "bot" in vault "prod" (vault override: …)`. */
  description: string;
}

export interface RateLimitVerdict extends RateLimitRule {
  allowed: boolean;
  /** Requests left in this window after this one. */
  remaining: number;
  /** Milliseconds until the window ends and the count starts over. */
  resetMs: number;
  /** Epoch milliseconds of that reset, from `now`. */
  resetAt: number;
  /** True when Redis failed and the in-memory insurance limiter counted this request. */
  insured: boolean;
}

export interface RateLimiter {
  readonly store: RateLimitStore['kind'];
  /** True when some service override exists, i.e. knowing the service can change the limit. */
  readonly hasServiceOverrides: boolean;
  /** The limit that applies to `subject`, without counting anything. */
  ruleFor(subject: RateLimitSubject): RateLimitRule;
  /** Counts one request. Rejects only when both Redis and the insurance limiter fail. */
  consume(subject: RateLimitSubject): Promise<RateLimitVerdict>;
  /** Replaces the overrides (validated like at construction); counters are kept. */
  setOverrides(overrides: RateLimitOverrides): void;
}

/**
 * The in-memory insurance limiter. rate-limiter-flexible hands it the same arguments as the
 * failed call, options object included, which tells this module which requests it answered.
 */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: { points: number; duration: number },
    private readonly onUse: (call: object) => void,
  ) {
    super(options);
  }

  override consume(
    key: string | number,
    points?: number,
    options: Record<string, unknown> = {},
  ): Promise<RateLimiterRes> {
    this.onUse(options);
    return super.consume(key, points, options);
  }
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { perMinute: defaultPerMinute, burst } = checkConfig(options?.config);
  const store = checkStore(options.store);
  let overrides = checkOverrides(options.overrides);
  const now = options.now ?? Date.now;
  const log = (options.logger ?? silentLogger).child({ component: 'rate-limit' });
  const insuranceCounter = insuranceMetric(options.metrics);
  const keyPrefix = store.kind === 'redis' ? store.keyPrefix : undefined;

  /**
   * One limiter (with its insurance) for every limit: it only counts, up to a ceiling no limit
   * reaches, and `consume` compares the count with the rule's limit. So a counter carries on
   * when its limit changes (an override set or removed mid-window applies to what was already
   * counted), in memory as in Redis.
   */
  const window = { points: COUNT_CEILING, duration: RATE_LIMIT_WINDOW_SECONDS };
  /** Options objects of the calls the insurance limiter answered. */
  const insuredCalls = new WeakSet<object>();
  let outage = false;
  const limiter: RateLimiterAbstract | RateLimiterStoreAbstract =
    store.kind === 'memory'
      ? new RateLimiterMemory(window)
      : new RateLimiterRedis({
          ...window,
          storeClient: store.client,
          // One prefix for every limit: a counter's key already says which rule it belongs to.
          keyPrefix,
          // Fail at once while reconnecting, rather than wait for a command that cannot run.
          rejectIfRedisNotReady: true,
          insuranceLimiter: new InsuranceLimiter(window, (call) => insuredCalls.add(call)),
        });

  /**
   * Rules by subject, so the hot path does not rebuild keys and descriptions on every request.
   * Emptied when the overrides change; bounded (cleared when full), since subjects come from
   * authenticated principals but sessions are many.
   */
  const rules = new BoundedMemo<string, RateLimitRule>(10_000);

  function ruleFor(subject: RateLimitSubject): RateLimitRule {
    const key = `${subject.agentName ?? ''}\u0000${subject.sessionId ?? ''}\u0000${subject.vault ?? ''}\u0000${subject.service ?? ''}`;
    return rules.get(key, () => Object.freeze(computeRule(subject)));
  }

  function computeRule(subject: RateLimitSubject): RateLimitRule {
    const who = counterOf(subject);
    const name = subject.agentName ?? undefined;
    const { vault, service } = subject;
    const rule = (tier: RateLimitTier, perMinute: number, key: string, scope: string) => {
      const limit = perMinute + burst;
      const source = tier === 'default' ? 'the default' : `${tier} override`;
      return {
        tier,
        perMinute,
        burst,
        limit,
        windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
        key,
        description:
          `${limit} requests per ${RATE_LIMIT_WINDOW_SECONDS} s for ${who.label}${scope} ` +
          `(${source}: ${perMinute} per minute + burst ${burst})`,
      };
    };
    if (vault !== undefined && service !== undefined) {
      const perMinute =
        own(overrides.services, `${vault}/${service}`) ?? own(overrides.services, service);
      if (perMinute !== undefined) {
        return rule(
          'service',
          perMinute,
          `${who.key}:service:${part(vault)}/${part(service)}`,
          ` calling service "${service}" of vault "${vault}"`,
        );
      }
    }
    if (vault !== undefined) {
      const perMinute = own(overrides.vaults, vault);
      if (perMinute !== undefined) {
        return rule('vault', perMinute, `${who.key}:vault:${part(vault)}`, ` in vault "${vault}"`);
      }
    }
    const perAgent = name === undefined ? undefined : own(overrides.agents, name);
    if (perAgent !== undefined) return rule('agent', perAgent, who.key, '');
    return rule('default', defaultPerMinute, who.key, '');
  }

  /** Logs the start and the end of a Redis outage once each; counts every insured request. */
  function noteStore(insured: boolean): void {
    if (store.kind !== 'redis') return;
    if (insured) {
      insuranceCounter.inc();
      if (outage) return;
      outage = true;
      log.warn(
        'the Redis rate-limit store failed; counting in memory on this replica (insurance limiter) until it answers again',
        { code: 'VEC_CACHE_UNAVAILABLE', redisStatus: store.client.status },
      );
    } else if (outage) {
      outage = false;
      log.info('the Redis rate-limit store answers again; limits are shared between replicas');
    }
  }

  return {
    store: store.kind,
    get hasServiceOverrides() {
      return Object.keys(overrides.services ?? {}).length > 0;
    },
    ruleFor,
    async consume(subject) {
      const rule = ruleFor(subject);
      const call = {}; // identifies this call if it reaches the insurance limiter
      let res: RateLimiterRes;
      let allowed: boolean;
      try {
        res = await limiter.consume(rule.key, 1, call);
        allowed = res.consumedPoints <= rule.limit;
      } catch (error) {
        // Over the ceiling is an answer; anything else means Redis and the insurance both failed.
        if (!(error instanceof RateLimiterRes)) throw error;
        res = error;
        allowed = false;
      }
      const insured = insuredCalls.has(call);
      noteStore(insured);
      // A key without expiry should not exist; a whole window is the safe guess.
      const resetMs = res.msBeforeNext >= 0 ? res.msBeforeNext : RATE_LIMIT_WINDOW_SECONDS * 1000;
      return {
        ...rule,
        allowed,
        remaining: allowed ? Math.max(0, rule.limit - res.consumedPoints) : 0,
        resetMs,
        resetAt: now() + resetMs,
        insured,
      };
    },
    setOverrides(next) {
      overrides = checkOverrides(next);
      rules.clear();
    },
  };
}

/** The counter's identity: the agent's name, else the session's id. */
function counterOf(subject: RateLimitSubject): { key: string; label: string } {
  if (subject.agentName) {
    return { key: `agent:${part(subject.agentName)}`, label: `agent "${subject.agentName}"` };
  }
  if (subject.sessionId) {
    return { key: `session:${part(subject.sessionId)}`, label: `session ${subject.sessionId}` };
  }
  throw new Error('rate limit: the subject has neither an agent name nor a session id');
}

/** One component of a counter key; encoded so that a `:` or `/` in a name cannot collide. */
function part(value: string): string {
  return encodeURIComponent(value);
}

/** An own property only: a vault named `constructor` must not find Object.prototype's. */
function own(record: Record<string, number> | undefined, key: string): number | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

function insuranceMetric(registry: Registry | undefined): Counter {
  const existing = registry?.getSingleMetric(INSURANCE_METRIC_NAME);
  if (existing instanceof Counter) return existing; // a second limiter on the same /metrics
  return new Counter({
    name: INSURANCE_METRIC_NAME,
    help: 'Requests counted by the in-memory insurance limiter because the Redis rate-limit store failed.',
    registers: registry ? [registry] : [],
  });
}

function invalid(field: string, problem: string): GatewayError {
  return new GatewayError('VEC_CONFIG_INVALID', `rate limit: ${field} ${problem}.`, {
    context: { field },
  });
}

const isWhole = (value: unknown, min: number): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min;

function checkConfig(config: RateLimiterOptions['config'] | undefined): {
  perMinute: number;
  burst: number;
} {
  const perMinute = config?.DefaultRequestsPerMinute;
  const burst = config?.Burst;
  if (!isWhole(perMinute, 1)) {
    throw invalid('System.RateLimit.DefaultRequestsPerMinute', 'must be a whole number above 0');
  }
  if (!isWhole(burst, 0))
    throw invalid('System.RateLimit.Burst', 'must be a whole number, 0 or more');
  return { perMinute, burst };
}

function checkStore(
  store: RateLimitStore | undefined,
): { kind: 'memory' } | { kind: 'redis'; client: Redis; keyPrefix: string } {
  if (store?.kind === 'memory') return store;
  if (store?.kind === 'redis') {
    const client = store.client as Partial<Redis> | undefined;
    if (typeof client?.multi !== 'function' || typeof client.defineCommand !== 'function') {
      throw invalid('store.client', 'must be an ioredis client');
    }
    const keyPrefix = store.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
    if (typeof keyPrefix !== 'string' || keyPrefix === '') {
      throw invalid('store.keyPrefix', 'must be a non-empty string');
    }
    return { kind: 'redis', client: store.client, keyPrefix };
  }
  throw invalid('store.kind', 'must be "memory" or "redis"');
}

function checkOverrides(overrides: RateLimitOverrides | undefined): RateLimitOverrides {
  if (overrides === undefined) return {};
  if (typeof overrides !== 'object' || overrides === null) {
    throw invalid('overrides', 'must be an object');
  }
  const checked: RateLimitOverrides = {};
  for (const [tier, record] of Object.entries(overrides)) {
    if (tier !== 'agents' && tier !== 'vaults' && tier !== 'services') {
      throw invalid(`overrides.${tier}`, 'is not a tier (known: agents, vaults, services)');
    }
    if (record === undefined) continue;
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw invalid(`overrides.${tier}`, 'must map names to requests per minute');
    }
    for (const [name, perMinute] of Object.entries(record as Record<string, unknown>)) {
      if (name === '') throw invalid(`overrides.${tier}`, 'has an empty name');
      if (!isWhole(perMinute, 1)) {
        throw invalid(
          `overrides.${tier}["${name}"]`,
          'must be a whole number of requests per minute above 0',
        );
      }
    }
    checked[tier] = Object.freeze({ ...(record as Record<string, number>) });
  }
  return Object.freeze(checked);
}
