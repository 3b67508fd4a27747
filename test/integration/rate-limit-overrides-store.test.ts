/**
 * API rate-limit overrides on both database providers: the repository (migration 4, upsert,
 * delete, sorting) and the overrides service on a real limiter and a memory cache — stored
 * values win over configured ones, removing one reverts, a failed reload keeps the last set,
 * and a change whose message was lost is picked up by the periodic refresh.
 */
import { MemoryCache } from '../../src/cache';
import { createRateLimiter, type RateLimiter } from '../../src/guards/rate-limit';
import { createRateLimitOverrideRepository } from '../../src/guards/rate-limit-override-repository';
import {
  createRateLimitOverrides,
  type RateLimitOverridesService,
} from '../../src/guards/rate-limit-overrides';
import { isUniqueViolation, openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { recordingLogger, waitFor } from '../helpers/waiting-and-processes';
import { databaseSubjects, rejects, steppingClock } from './storage-test-helpers';

const configured = { agents: { 'ci-bot': 600, scraper: 10 }, services: { stripe: 5 } };

function limiter(): RateLimiter {
  return createRateLimiter({
    config: { DefaultRequestsPerMinute: 60, Burst: 0 },
    overrides: configured,
    store: { kind: 'memory' },
  });
}

const perMinuteOf = (l: RateLimiter, agentName: string, vault = 'prod', service?: string) =>
  l.ruleFor({ agentName, vault, service }).perMinute;

describe.each(databaseSubjects('vectra-rl-overrides-'))(
  'rate-limit overrides: $name',
  (subject) => {
    subject.describe(subject.name, () => {
      let db: Database;
      let drop: () => Promise<void>;
      const services: RateLimitOverridesService[] = [];
      const caches: MemoryCache[] = [];

      beforeEach(async () => {
        const created = await subject.create();
        drop = created.drop;
        db = await openDatabase(created.config);
      });

      afterEach(async () => {
        for (const service of services.splice(0)) await service.close();
        for (const cache of caches.splice(0)) await cache.close();
        await db.close().catch(() => undefined);
        await drop();
      });

      function overrides(options: { refreshMs?: number; cache?: MemoryCache } = {}) {
        const cache = options.cache ?? new MemoryCache();
        caches.push(cache);
        const logger = recordingLogger();
        const l = limiter();
        const service = createRateLimitOverrides({
          db,
          cache,
          limiter: l,
          configured,
          logger,
          now: steppingClock(),
          refreshMs: options.refreshMs ?? 0,
        });
        services.push(service);
        return { service, limiter: l, logger, cache };
      }

      it('repository: upserts, lists sorted by tier and name, deletes', async () => {
        const repository = createRateLimitOverrideRepository(db, { now: steppingClock() });
        expect(await repository.list()).toEqual([]);
        await repository.upsert('services', 'prod/github', 30);
        await repository.upsert('agents', 'zed', 1);
        await repository.upsert('agents', 'Ab', 2); // sorted by code point on both providers
        await repository.upsert('vaults', 'prod', 3);
        const replaced = await repository.upsert('agents', 'zed', 7);
        expect(replaced).toEqual({
          tier: 'agents',
          name: 'zed',
          requestsPerMinute: 7,
          updatedAt: '2030-01-02T03:04:09.000Z',
        });
        expect((await repository.list()).map((o) => [o.tier, o.name, o.requestsPerMinute])).toEqual(
          [
            ['agents', 'Ab', 2],
            ['agents', 'zed', 7],
            ['vaults', 'prod', 3],
            ['services', 'prod/github', 30],
          ],
        );
        expect(await repository.delete('agents', 'zed')).toBe(true);
        expect(await repository.delete('agents', 'zed')).toBe(false);
        expect(await repository.list()).toHaveLength(3);
      });

      it('the table refuses unknown tiers, rates below 1 and a second row for the same name', async () => {
        /** The error an INSERT fails with (undefined when it succeeds). */
        const insert = (tier: string, name: string, rate: number) =>
          db
            .run(
              'INSERT INTO rate_limit_overrides (tier, name, requests_per_minute, updated_at) VALUES ($1, $2, $3, $4)',
              [tier, name, rate, '2030-01-01T00:00:00.000Z'],
            )
            .then(
              () => undefined,
              (error: unknown) => error,
            );
        expect(String(await insert('users', 'x', 1))).toMatch(/check/i);
        expect(String(await insert('agents', 'x', 0))).toMatch(/check/i);
        expect(await insert('agents', 'x', 1)).toBeUndefined();
        const duplicate = await insert('agents', 'x', 2);
        expect(isUniqueViolation(duplicate)).toBe(true);
      });

      it('applies stored overrides on top of configured ones; removing one reverts', async () => {
        const repository = createRateLimitOverrideRepository(db);
        await repository.upsert('agents', 'scraper', 2);
        const { service, limiter: l } = overrides();
        await service.start();
        expect(perMinuteOf(l, 'scraper')).toBe(2);
        expect(perMinuteOf(l, 'ci-bot')).toBe(600);
        expect(service.list()).toEqual([
          { tier: 'agents', name: 'ci-bot', requestsPerMinute: 600, source: 'config' },
          {
            tier: 'agents',
            name: 'scraper',
            requestsPerMinute: 2,
            source: 'api',
            updatedAt: expect.any(String),
            configuredRequestsPerMinute: 10,
          },
          { tier: 'services', name: 'stripe', requestsPerMinute: 5, source: 'config' },
        ]);

        const set = await service.set('services', 'prod/github', 30);
        expect(set).toMatchObject({ source: 'api', requestsPerMinute: 30 });
        expect(perMinuteOf(l, 'anyone', 'prod', 'github')).toBe(30);
        expect(perMinuteOf(l, 'anyone', 'dev', 'github')).toBe(60);

        await service.remove('agents', 'scraper');
        expect(perMinuteOf(l, 'scraper')).toBe(10); // the configured value again
        expect(service.list().find((e) => e.name === 'scraper')).toEqual({
          tier: 'agents',
          name: 'scraper',
          requestsPerMinute: 10,
          source: 'config',
        });
        expect(await repository.list()).toEqual([
          expect.objectContaining({ tier: 'services', name: 'prod/github' }),
        ]);
      });

      it('refuses bad input with VEC_REQUEST_INVALID naming the field, and a missing override with a 404 code', async () => {
        const { service } = overrides();
        await service.start();
        await rejects(service.set('users', 'x', 1), 'VEC_REQUEST_INVALID', 'tier');
        await rejects(service.set('agents', 'Bad Name', 1), 'VEC_REQUEST_INVALID', 'name');
        await rejects(service.set('vaults', 'a/b', 1), 'VEC_REQUEST_INVALID', 'name');
        for (const bad of [0, -3, 2.5, '10', undefined]) {
          await rejects(
            service.set('agents', 'x', bad),
            'VEC_REQUEST_INVALID',
            'requestsPerMinute',
          );
        }
        const configuredRemains = await rejects(
          service.remove('agents', 'ci-bot'),
          'VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND',
        );
        expect(configuredRemains.message).toContain(
          'the configured value (System.RateLimit.AgentOverrides: 600 per minute) remains in effect',
        );
        const none = await rejects(
          service.remove('agents', 'nobody'),
          'VEC_RATE_LIMIT_OVERRIDE_NOT_FOUND',
        );
        expect(none.message).not.toContain('configured');
      });

      it('a change on one instance reaches another through the cache channel', async () => {
        const cache = new MemoryCache();
        const a = overrides({ cache });
        const b = overrides({ cache });
        await a.service.start();
        await b.service.start();
        await a.service.set('vaults', 'prod', 3);
        await waitFor('instance B to apply the vault override', () =>
          b.service.list().some((e) => e.tier === 'vaults' && e.requestsPerMinute === 3),
        );
        expect(perMinuteOf(b.limiter, 'anyone', 'prod')).toBe(3);
        await a.service.remove('vaults', 'prod');
        await waitFor(
          'instance B to drop it',
          () => perMinuteOf(b.limiter, 'anyone', 'prod') === 60,
        );
      });

      it('a change whose message was lost is applied at the next refresh', async () => {
        // Separate memory caches: like a replica that missed the message while Redis was away.
        const a = overrides();
        const b = overrides({ refreshMs: 20 });
        await a.service.start();
        await b.service.start();
        await a.service.set('agents', 'late', 4);
        await waitFor(
          'the refresh to apply the override',
          () => perMinuteOf(b.limiter, 'late') === 4,
        );
      });

      it('a failed reload logs a warning and keeps the last applied set', async () => {
        const { service, limiter: l, logger } = overrides();
        await service.start();
        await service.set('agents', 'kept', 8);
        await db.close();
        await service.reload();
        expect(perMinuteOf(l, 'kept')).toBe(8);
        expect(service.list().find((e) => e.name === 'kept')?.requestsPerMinute).toBe(8);
        expect(logger.lines).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              level: 'warn',
              message: expect.stringContaining('the last applied set stays'),
            }),
          ]),
        );
      });
    });
  },
);
