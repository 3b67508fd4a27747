/**
 * Rate-limit overrides set through the admin API, in `rate_limit_overrides` (migration 4).
 * Written once on SqlClient: the same SQL runs on SQLite and PostgreSQL. Values are checked by
 * the caller (rate-limit-overrides.ts); the table's CHECKs are the last line.
 */
import type { SqlClient } from '../storage/types';
import type { OverrideTier } from '../config/rate-limit-override-list';

export interface StoredOverride {
  tier: OverrideTier;
  name: string;
  requestsPerMinute: number;
  /** ISO-8601 time of the last write. */
  updatedAt: string;
}

export interface RateLimitOverrideRepository {
  /** Every stored override, sorted by tier (agents, vaults, services) and name. */
  list(): Promise<StoredOverride[]>;
  /** Inserts or replaces one override; returns it as stored. */
  upsert(tier: OverrideTier, name: string, requestsPerMinute: number): Promise<StoredOverride>;
  /** Deletes one override; false when there was none. */
  delete(tier: OverrideTier, name: string): Promise<boolean>;
}

export interface RateLimitOverrideRepositoryOptions {
  /** Clock for `updated_at`; injected so tests do not depend on the time. */
  now?: () => Date;
}

interface OverrideRow {
  tier: OverrideTier;
  name: string;
  requests_per_minute: number;
  updated_at: string;
}

const TIER_ORDER: Record<OverrideTier, number> = { agents: 0, vaults: 1, services: 2 };

const toStored = (row: OverrideRow): StoredOverride => ({
  tier: row.tier,
  name: row.name,
  requestsPerMinute: Number(row.requests_per_minute),
  updatedAt: row.updated_at,
});

/** Tier order, then name; by code point, since SQLite and PostgreSQL collate text differently. */
export function compareOverrides(
  a: { tier: OverrideTier; name: string },
  b: { tier: OverrideTier; name: string },
): number {
  if (a.tier !== b.tier) return TIER_ORDER[a.tier] - TIER_ORDER[b.tier];
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function createRateLimitOverrideRepository(
  client: SqlClient,
  options: RateLimitOverrideRepositoryOptions = {},
): RateLimitOverrideRepository {
  const now = options.now ?? (() => new Date());
  return {
    async list() {
      const rows = await client.all<OverrideRow>(
        'SELECT tier, name, requests_per_minute, updated_at FROM rate_limit_overrides',
      );
      return rows.map(toStored).sort(compareOverrides);
    },

    async upsert(tier, name, requestsPerMinute) {
      const row = await client.get<OverrideRow>(
        `INSERT INTO rate_limit_overrides (tier, name, requests_per_minute, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tier, name) DO UPDATE
           SET requests_per_minute = excluded.requests_per_minute, updated_at = excluded.updated_at
         RETURNING tier, name, requests_per_minute, updated_at`,
        [tier, name, requestsPerMinute, now().toISOString()],
      );
      if (!row) throw new Error(`rate-limit override ${tier}/${name} was not stored`);
      return toStored(row);
    },

    async delete(tier, name) {
      const result = await client.run(
        'DELETE FROM rate_limit_overrides WHERE tier = $1 AND name = $2',
        [tier, name],
      );
      return result.changes > 0;
    },
  };
}
