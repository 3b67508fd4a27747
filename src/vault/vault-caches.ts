/**
 * In-process caches in front of the database for the lookups on every proxied request: "which
 * services does this vault have?", "what are this vault's credentials?" (the vault's id and the
 * ciphertexts; vault-service.ts keeps the values it has decrypted beside an entry, in this
 * process's memory only, and they go when the entry goes) and "what is this vault's
 * unmatched-hosts setting?". Other caches that depend on vaults (the token lookups of
 * ../identity/principal-cache.ts) are `track`ed here and evicted with them. Entries live
 * briefly (30 s) and are dropped AT ONCE when something they depend on changes: the replica
 * that changes the database evicts locally, then publishes a tag on the cache provider's
 * channel `vault-invalidate`; every replica (itself included) evicts the entries carrying that
 * tag. With Redis the message crosses processes.
 *
 * Tags here: `vault:<name>` (a vault was deleted, or one of that name created),
 * `vault-settings:<vault name>` (its unmatched-hosts setting changed: only the cached vault
 * goes), `services:<vault name>` (a vault's service list changed), `credentials:<vault name>`
 * (a credential was set or deleted), `all`; tracked caches add their own.
 *
 * Pub/sub is fire-and-forget: a message missed while Redis was unreachable is lost, so the TTL
 * bounds how long a missed invalidation can be served (30 s).
 */
import type { Cache } from '../cache/types';
import { silentLogger, type Logger } from '../observability/types';
import type { Service, Vault } from './types';
import { liveValue, type Expiring } from '../cache/expiring-entries';

export const INVALIDATION_CHANNEL = 'vault-invalidate';
export const CACHE_TTL_MS = 30_000;
export const MAX_SERVICE_LISTS = 1_000;
/** Vaults whose ciphertexts are held; each holds at most its credentials (64 KiB a value). */
export const MAX_CREDENTIAL_VAULTS = 1_000;

export const invalidationTag = {
  vault: (name: string) => `vault:${name}`,
  services: (vault: string) => `services:${vault}`,
  /** The vault's own settings (unmatched hosts) changed; nothing else of it. */
  vaultSettings: (vault: string) => `vault-settings:${vault}`,
  credentials: (vault: string) => `credentials:${vault}`,
  all: 'all',
} as const;

interface Entry<V> extends Expiring<V> {
  tags: readonly string[];
}

/**
 * A bounded map with per-entry TTL and tags. A lookup that started before an invalidation must
 * not store its (possibly stale) answer after it: callers take `snapshot()` before reading the
 * database and pass it to `set`, which ignores the value if anything was invalidated since.
 */
export class InvalidatingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private generation = 0;

  constructor(
    private readonly now: () => number,
    private readonly maxEntries: number,
  ) {}

  snapshot(): number {
    return this.generation;
  }

  get(key: string): V | undefined {
    return liveValue(this.entries, key, this.now);
  }

  set(key: string, value: V, ttlMs: number, tags: readonly string[], snapshot: number): void {
    if (snapshot !== this.generation) return;
    this.entries.delete(key); // re-inserted last: the Map's order is the eviction order
    if (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs, tags });
  }

  /** Drops every entry carrying `tag` (every entry for `all`). */
  invalidate(tag: string): void {
    this.generation += 1;
    if (tag === invalidationTag.all) {
      this.entries.clear();
      return;
    }
    for (const [key, entry] of this.entries) {
      if (entry.tags.includes(tag)) this.entries.delete(key);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A vault's id and its credentials as stored: key → ciphertext, never a plain value. */
export interface SealedCredentials {
  readonly vaultId: string;
  readonly vaultName: string;
  readonly ciphertexts: ReadonlyMap<string, string>;
}

export interface VaultCachesOptions {
  cache: Cache;
  logger?: Logger;
  now?: () => Date;
}

/** A cache evicted with the vault caches, by tag. */
export interface TrackedCache {
  invalidate(tag: string): void;
}

/**
 * The caches of the VaultService (and of the IdentityService's token lookups, through `track`),
 * subscribed to `vault-invalidate` from creation.
 */
export interface VaultCaches {
  /** The services of `vault`, cached; `load` reads them (and throws for an unknown vault). */
  services(vault: string, load: () => Promise<Service[]>): Promise<readonly Service[]>;
  /** The sealed credentials of `vault`, cached; `load` reads them (and throws for an unknown vault). */
  credentials(vault: string, load: () => Promise<SealedCredentials>): Promise<SealedCredentials>;
  /** The vault itself (its unmatched-hosts setting), cached; `load` reads it. */
  vault(vault: string, load: () => Promise<Vault>): Promise<Vault>;
  /** Evicts here at once, then publishes so every replica evicts. Call after the DB commit. */
  invalidate(tag: string): Promise<void>;
  /** Evicts `cache` by the same tags, from `invalidate` here and from every replica's. */
  track(cache: TrackedCache): void;
  /**
   * Whether lookups may be cached: false until the subscription is confirmed, and for good when
   * it failed (a cache that cannot hear invalidations could keep a revoked token alive).
   */
  cacheable(): Promise<boolean>;
  close(): Promise<void>;
}

export function createVaultCaches(options: VaultCachesOptions): VaultCaches {
  const { cache } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const clock = (): number => now().getTime();
  const tracked: TrackedCache[] = [];
  const serviceLists = new InvalidatingCache<readonly Service[]>(clock, MAX_SERVICE_LISTS);
  const sealed = new InvalidatingCache<SealedCredentials>(clock, MAX_CREDENTIAL_VAULTS);
  const vaults = new InvalidatingCache<Vault>(clock, MAX_SERVICE_LISTS);
  const evict = (tag: string): void => {
    serviceLists.invalidate(tag);
    sealed.invalidate(tag);
    vaults.invalidate(tag);
    for (const other of tracked) other.invalidate(tag);
  };
  let unsubscribe: (() => Promise<void>) | undefined;
  // Until the subscription is confirmed (or when it failed) nothing is cached.
  const subscribed: Promise<boolean> = cache.subscribe(INVALIDATION_CHANNEL, evict).then(
    (stop) => {
      unsubscribe = stop;
      return true;
    },
    (error: unknown) => {
      logger.error('cannot subscribe to vault invalidations; vault lookups are not cached', {
        error: String(error),
      });
      return false;
    },
  );

  /** `store`'s entry for `key`, or `load`ed and stored (only once invalidations can be heard). */
  async function cached<V>(
    store: InvalidatingCache<V>,
    key: string,
    tags: readonly string[],
    load: () => Promise<V>,
  ): Promise<V> {
    const cacheable = await subscribed;
    const hit = cacheable ? store.get(key) : undefined;
    if (hit !== undefined) return hit;
    const snapshot = store.snapshot();
    // Frozen: every caller shares the cached value, so none may change it.
    const loaded = Object.freeze(await load());
    if (cacheable) store.set(key, loaded, CACHE_TTL_MS, tags, snapshot);
    return loaded;
  }

  /** A per-vault lookup through `store`, evicted by the tags `tagsOf` names for the vault. */
  const perVault =
    <V>(store: InvalidatingCache<V>, tagsOf: (vault: string) => readonly string[]) =>
    (vault: string, load: () => Promise<V>): Promise<V> =>
      cached(store, vault, tagsOf(vault), load);

  return {
    services: perVault(serviceLists, (v) => [
      invalidationTag.services(v),
      invalidationTag.vault(v),
    ]),
    vault: perVault(vaults, (v) => [invalidationTag.vault(v), invalidationTag.vaultSettings(v)]),
    credentials: perVault(sealed, (v) => [
      invalidationTag.credentials(v),
      invalidationTag.vault(v),
    ]),

    async invalidate(tag) {
      evict(tag);
      try {
        await cache.publish(INVALIDATION_CHANNEL, tag);
      } catch (error) {
        // The change stands; other replicas drop their copy when it expires (CACHE_TTL_MS).
        logger.error('could not publish a vault invalidation to other replicas', {
          kind: tag.split(':')[0],
          code: (error as { code?: unknown }).code,
          error: String((error as Error).message),
        });
      }
    },

    track(other) {
      tracked.push(other);
    },

    cacheable: () => subscribed,

    async close() {
      await subscribed;
      await unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}
