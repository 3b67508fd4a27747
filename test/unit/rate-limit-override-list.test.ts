import {
  configuredOverrides,
  MAX_OVERRIDE_PER_MINUTE,
  overrideNameProblem,
  parseOverrideList,
  perMinuteProblem,
} from '../../src/config/rate-limit-override-list';
import { mergeOverrides } from '../../src/guards/rate-limit-overrides';

describe('parseOverrideList', () => {
  it('reads comma-separated name=requestsPerMinute pairs, spaces allowed around each part', () => {
    expect(parseOverrideList('ci-bot=600,scraper=10', 'agents')).toEqual({
      'ci-bot': 600,
      scraper: 10,
    });
    expect(parseOverrideList(' ci-bot = 600 , scraper=10 ', 'agents')).toEqual({
      'ci-bot': 600,
      scraper: 10,
    });
    expect(parseOverrideList('prod/github=30,stripe=5', 'services')).toEqual({
      'prod/github': 30,
      stripe: 5,
    });
  });

  it('reads an empty value as no overrides', () => {
    expect(parseOverrideList('', 'agents')).toEqual({});
    expect(parseOverrideList('   ', 'vaults')).toEqual({});
  });

  it('keeps a name like `constructor` as an own entry', () => {
    const parsed = parseOverrideList('constructor=5', 'agents');
    expect(Object.hasOwn(parsed, 'constructor')).toBe(true);
    expect(parsed.constructor).toBe(5);
  });

  it.each([
    ['scraper=0', 'agents', '"scraper=0": requests per minute must be a whole number from 1'],
    ['scraper=-5', 'agents', '"scraper=-5": requests per minute must be a whole number'],
    ['scraper=1.5', 'agents', '"scraper=1.5": requests per minute must be a whole number'],
    ['scraper=ten', 'agents', '"scraper=ten": requests per minute must be a whole number'],
    ['scraper=', 'agents', '"scraper=": requests per minute must be a whole number'],
    [`scraper=${MAX_OVERRIDE_PER_MINUTE + 1}`, 'agents', `from 1 to ${MAX_OVERRIDE_PER_MINUTE}`],
    ['=10', 'agents', '"=10": the agent name must not be empty'],
    ['scraper', 'agents', '"scraper" has no "="'],
    ['a=1,,b=2', 'agents', 'entry 2 is empty (a stray comma?)'],
    ['a=1,', 'agents', 'entry 2 is empty'],
    ['a=1,a=2', 'agents', 'agent "a" is listed twice'],
    ['a=1, a =2', 'vaults', 'vault "a" is listed twice'],
    ['Scraper=10', 'agents', 'agent name "Scraper" must be 1 to 63 characters of a-z'],
    ['prod/github=10', 'vaults', 'vault name "prod/github" must be'],
    ['a/b/c=10', 'services', 'service "a/b/c" must be <service> or <vault>/<service>'],
    ['/github=10', 'services', 'service "/github" must be <service> or <vault>/<service>'],
    ['prod/=10', 'services', 'service "prod/" must be'],
  ] as const)('%s (%s) fails: %s', (text, tier, message) => {
    expect(() => parseOverrideList(text, tier)).toThrow(message);
  });

  it('messages are one line', () => {
    expect(() => parseOverrideList('a=1\nb=x', 'agents')).toThrow(/^[^\n]*$/);
  });
});

describe('override names and rates', () => {
  it('accepts agent, vault and service names as the rest of Vectra does', () => {
    expect(overrideNameProblem('agents', 'ci-bot.v2_x')).toBeUndefined();
    expect(overrideNameProblem('services', 'prod/github')).toBeUndefined();
    expect(overrideNameProblem('services', 'github')).toBeUndefined();
    expect(overrideNameProblem('agents', '')).toMatch(/must not be empty/);
    expect(overrideNameProblem('agents', 'x'.repeat(64))).toMatch(/1 to 63 characters/);
    expect(overrideNameProblem('agents', 42)).toMatch(/must not be empty/);
  });

  it('accepts whole numbers from 1 to the INTEGER maximum', () => {
    expect(perMinuteProblem(1)).toBeUndefined();
    expect(perMinuteProblem(MAX_OVERRIDE_PER_MINUTE)).toBeUndefined();
    for (const bad of [0, -1, 1.5, '10', null, undefined, Number.NaN, Infinity]) {
      expect(perMinuteProblem(bad)).toMatch(/whole number from 1/);
    }
  });
});

describe('configuredOverrides and mergeOverrides', () => {
  it('parses the three configuration keys into the limiter tiers', () => {
    expect(
      configuredOverrides({
        AgentOverrides: 'ci-bot=600',
        VaultOverrides: '',
        ServiceOverrides: 'prod/github=30',
      }),
    ).toEqual({ agents: { 'ci-bot': 600 }, vaults: {}, services: { 'prod/github': 30 } });
  });

  it('stored (API) values win over configured ones for the same tier and name', () => {
    const configured = { agents: { 'ci-bot': 600, scraper: 10 }, services: { stripe: 5 } };
    const merged = mergeOverrides(configured, [
      { tier: 'agents', name: 'scraper', requestsPerMinute: 2 },
      { tier: 'vaults', name: 'prod', requestsPerMinute: 100 },
    ]);
    expect(merged).toEqual({
      agents: { 'ci-bot': 600, scraper: 2 },
      vaults: { prod: 100 },
      services: { stripe: 5 },
    });
    expect(configured.agents.scraper).toBe(10); // the configured set is not changed
  });
});
