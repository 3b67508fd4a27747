/**
 * Rate-limit overrides as written in the configuration: `System.RateLimit.AgentOverrides`,
 * `VaultOverrides` and `ServiceOverrides` hold comma-separated `name=requestsPerMinute` pairs
 * (`ci-bot=600,scraper=10`; services `prod/github=30,stripe=5`). The same rules check a name
 * and a rate given through the admin API, so both ways accept exactly the same overrides.
 *
 * Names are agent, vault and service names (NAME_PATTERN: lower case a-z, 0-9, `.`, `_`, `-`);
 * a service is `<service>` (in every vault) or `<vault>/<service>`. A rate is a whole number of
 * requests per minute, from 1 to MAX_OVERRIDE_PER_MINUTE (it is stored in an INTEGER column).
 *
 * This file has no dependencies beyond the name pattern: the configuration schema uses it for
 * its `rate-limit-overrides` format.
 */
import { NAME_PATTERN } from '../names';

export const OVERRIDE_TIERS = ['agents', 'vaults', 'services'] as const;
export type OverrideTier = (typeof OVERRIDE_TIERS)[number];

/** The largest rate an override may set: PostgreSQL's INTEGER maximum. */
export const MAX_OVERRIDE_PER_MINUTE = 2_147_483_647;

/** The configuration key of each tier, under System.RateLimit. */
export const OVERRIDE_CONFIG_KEYS: Readonly<Record<OverrideTier, string>> = Object.freeze({
  agents: 'AgentOverrides',
  vaults: 'VaultOverrides',
  services: 'ServiceOverrides',
});

const NOUN: Readonly<Record<OverrideTier, string>> = {
  agents: 'agent',
  vaults: 'vault',
  services: 'service',
};

const EXAMPLE: Readonly<Record<OverrideTier, string>> = {
  agents: 'ci-bot=600,scraper=10',
  vaults: 'prod=120,dev=600',
  services: 'prod/github=30,stripe=5',
};

export const isOverrideTier = (value: unknown): value is OverrideTier =>
  typeof value === 'string' && (OVERRIDE_TIERS as readonly string[]).includes(value);

/** `agent "ci-bot"`, `service "prod/github"`: how messages name an override. */
export function describeOverride(tier: OverrideTier, name: string): string {
  return `${NOUN[tier]} ${JSON.stringify(name)}`;
}

/** What is wrong with `name` as an override name of `tier`, or undefined when it is fine. */
export function overrideNameProblem(tier: OverrideTier, name: unknown): string | undefined {
  const rule = "1 to 63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit";
  if (typeof name !== 'string' || name === '') return `the ${NOUN[tier]} name must not be empty`;
  if (tier !== 'services') {
    return NAME_PATTERN.test(name)
      ? undefined
      : `${NOUN[tier]} name ${JSON.stringify(name)} must be ${rule}`;
  }
  const parts = name.split('/');
  if (parts.length <= 2 && parts.every((part) => NAME_PATTERN.test(part))) return undefined;
  return `service ${JSON.stringify(name)} must be <service> or <vault>/<service>, each ${rule}`;
}

/** What is wrong with `value` as requests per minute, or undefined when it is fine. */
export function perMinuteProblem(value: unknown, what = 'requests per minute'): string | undefined {
  const ok =
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= 1 &&
    value <= MAX_OVERRIDE_PER_MINUTE;
  return ok ? undefined : `${what} must be a whole number from 1 to ${MAX_OVERRIDE_PER_MINUTE}`;
}

/** What a tier's configuration value looks like, for messages. */
export function overrideListSyntax(tier: OverrideTier): string {
  return `name=requestsPerMinute pairs separated by commas (e.g. ${EXAMPLE[tier]})`;
}

/**
 * `ci-bot=600, scraper=10` → `{ 'ci-bot': 600, scraper: 10 }`; '' (or only spaces) → `{}`.
 * Throws an Error whose message is one line naming the entry and what is wrong with it.
 */
export function parseOverrideList(text: string, tier: OverrideTier): Record<string, number> {
  const result: Record<string, number> = {};
  if (text.trim() === '') return result;
  for (const [index, raw] of text.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') throw new Error(`entry ${index + 1} is empty (a stray comma?)`);
    const equals = entry.indexOf('=');
    if (equals < 0) throw new Error(`${JSON.stringify(entry)} has no "="`);
    const name = entry.slice(0, equals).trim();
    const rate = entry.slice(equals + 1).trim();
    const nameProblem = overrideNameProblem(tier, name);
    if (nameProblem) throw new Error(`${JSON.stringify(entry)}: ${nameProblem}`);
    const perMinute = /^\d+$/.test(rate) ? Number(rate) : Number.NaN;
    const rateProblem = perMinuteProblem(perMinute);
    if (rateProblem) throw new Error(`${JSON.stringify(entry)}: ${rateProblem}`);
    if (Object.hasOwn(result, name)) {
      throw new Error(`${describeOverride(tier, name)} is listed twice`);
    }
    result[name] = perMinute;
  }
  return result;
}

/** The three keys of System.RateLimit that hold overrides, as the limiter takes them. */
export interface OverrideListConfig {
  AgentOverrides: string;
  VaultOverrides: string;
  ServiceOverrides: string;
}

/** The configured overrides of every tier (the configuration was validated at load). */
export function configuredOverrides(
  config: OverrideListConfig,
): Record<OverrideTier, Record<string, number>> {
  return {
    agents: parseOverrideList(config.AgentOverrides, 'agents'),
    vaults: parseOverrideList(config.VaultOverrides, 'vaults'),
    services: parseOverrideList(config.ServiceOverrides, 'services'),
  };
}
