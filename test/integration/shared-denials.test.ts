/**
 * The recent-denials factor across replicas (src/semantic/shared-denials.ts): a refusal recorded
 * by one replica reaches the other's history through the cache's pub/sub, on a real Redis (two
 * connections, as two `vectra serve` processes have) and on the Memory cache; a replica ignores
 * its own messages and malformed ones.
 */
import { MemoryCache } from '../../src/cache/memory';
import { RedisCache } from '../../src/cache/redis';
import type { Cache } from '../../src/cache/types';
import { createDenialHistory, type DenialHistory } from '../../src/semantic/denials';
import {
  DENIALS_CHANNEL,
  shareDenials,
  type SharedDenials,
} from '../../src/semantic/shared-denials';
import { REDIS_ADDRESS, describeWith } from '../helpers/services';
import { recordingLogger, uniquePrefix } from '../helpers/waiting-and-processes';

/** A replica's history, with a promise for the next refusal it records. */
function replica(cache: Cache, replicaId: string, now?: () => number) {
  const logger = recordingLogger();
  const history = createDenialHistory();
  let recorded: () => void = () => undefined;
  const observed: Pick<DenialHistory, 'recordDenial'> = {
    recordDenial(agent) {
      history.recordDenial(agent);
      recorded();
    },
  };
  const shared = shareDenials(observed, { cache, logger, replicaId, now });
  return {
    history,
    shared,
    logger,
    nextRecord: () => new Promise<void>((resolve) => (recorded = resolve)),
  };
}

function contract(name: string, open: () => Promise<[Cache, Cache]>) {
  describe(name, () => {
    let caches: Cache[] = [];
    const started: SharedDenials[] = [];

    afterEach(async () => {
      for (const shared of started.splice(0)) await shared.close();
      for (const cache of new Set(caches)) await cache.close();
    });

    let clock = 0;
    async function twoReplicas() {
      caches = await open();
      const a = replica(caches[0], 'replica-a');
      const b = replica(caches[1], 'replica-b', () => clock);
      for (const r of [a, b]) {
        await r.shared.start();
        started.push(r.shared);
      }
      return { a, b };
    }

    it('counts a refusal answered by one replica on the other, once on its own', async () => {
      const { a, b } = await twoReplicas();
      const arrived = b.nextRecord();
      a.shared.recordDenial('probing-bot');
      expect(a.history.recentDenials('probing-bot')).toBe(1); // at once, before any message
      await arrived;
      expect(b.history.recentDenials('probing-bot')).toBe(1);

      // B's own refusal comes back to B on the channel too: still counted once.
      const echoed = a.nextRecord();
      b.shared.recordDenial('probing-bot');
      await echoed;
      expect(a.history.recentDenials('probing-bot')).toBe(2);
      // A message from A published after B's own has reached B, so B's echo has too.
      const marker = b.nextRecord();
      a.shared.recordDenial('marker-bot');
      await marker;
      expect(b.history.recentDenials('probing-bot')).toBe(2);
    });

    it('ignores malformed messages, warning at most once a minute with their count', async () => {
      const { a, b } = await twoReplicas();
      const malformed = [
        'not json',
        '{"replica":"x"}',
        '{"replica":"x","agent":""}',
        JSON.stringify({ replica: 'x', agent: 'a'.repeat(201) }),
      ];
      for (const message of malformed) await caches[0].publish(DENIALS_CHANNEL, message);
      let arrived = b.nextRecord();
      a.shared.recordDenial('real-bot');
      await arrived; // messages arrive in order: the malformed ones came first
      expect(b.history.recentDenials('real-bot')).toBe(1);
      const warnings = () => b.logger.lines.filter((l) => l.message.includes('malformed'));
      expect(warnings().map((l) => l.meta.count)).toEqual([1]);

      clock += 60_000;
      await caches[0].publish(DENIALS_CHANNEL, 'not json either');
      arrived = b.nextRecord();
      a.shared.recordDenial('real-bot');
      await arrived;
      expect(warnings().map((l) => l.meta.count)).toEqual([1, 4]);
    });
  });
}

contract('shared denials on the Memory cache', async () => {
  // One process, one cache: both "replicas" share it, as their channel.
  const cache = new MemoryCache();
  return [cache, cache];
});

describeWith('redis')('shared denials on Redis', () => {
  contract('two connections, as two replicas', async () => {
    const keyPrefix = uniquePrefix();
    return Promise.all([
      RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix }),
      RedisCache.connect({ connectionString: REDIS_ADDRESS, keyPrefix }),
    ]);
  });
});
