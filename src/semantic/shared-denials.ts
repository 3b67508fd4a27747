/**
 * The recent-denials risk factor across replicas: each replica records the refusals it answers
 * at once, in its own history, and publishes them on the cache provider's channel
 * `semantic-denials`; it records the refusals the other replicas publish as they arrive. Behind
 * a load balancer an agent refused by one replica is then as suspicious to all of them. Reading
 * the history stays in memory: scoring a request never waits on Redis.
 *
 * With the Memory cache there is one replica and the channel only loops back (ignored). When
 * Redis is unreachable, refusals still count on the replica that answered them; a message lost
 * meanwhile is not sent again, so another replica may score that agent lower than it should
 * until the agent is refused there too. Whoever can publish on the operator's Redis can raise
 * an agent's score (or crowd the history); the channel is trusted as the cache itself is.
 */
import { randomUUID } from 'node:crypto';
import type { Cache } from '../cache/types';
import type { Logger } from '../observability/types';
import type { DenialHistory } from './denials';

export const DENIALS_CHANNEL = 'semantic-denials';

/** Longest agent name taken from the channel (names are at most 200 characters). */
const MAX_AGENT_LENGTH = 200;

export interface SharedDenials {
  /** Records a refusal of `agent` here and tells the other replicas. */
  recordDenial(agent: string): void;
  /** Subscribes to the other replicas' refusals. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface SharedDenialsDeps {
  cache: Pick<Cache, 'publish' | 'subscribe'>;
  logger: Logger;
  /** Tells this replica's own messages apart; a fresh random id by default. */
  replicaId?: string;
  now?: () => number;
}

/** At most one warning per minute about malformed messages, with how many there were. */
const MALFORMED_WARNING_INTERVAL_MS = 60_000;

export function shareDenials(
  history: Pick<DenialHistory, 'recordDenial'>,
  deps: SharedDenialsDeps,
): SharedDenials {
  const { cache, logger } = deps;
  const replica = deps.replicaId ?? randomUUID();
  const now = deps.now ?? Date.now;
  let malformed = 0;
  let warnedAt = -Infinity;
  let unsubscribe: (() => Promise<void>) | undefined;
  // One warning per outage, not one per refusal.
  let publishFailing = false;

  function received(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      parsed = undefined;
    }
    const { replica: from, agent } = (parsed ?? {}) as Record<string, unknown>;
    if (
      typeof from !== 'string' ||
      typeof agent !== 'string' ||
      agent === '' ||
      agent.length > MAX_AGENT_LENGTH
    ) {
      malformed++;
      if (now() - warnedAt >= MALFORMED_WARNING_INTERVAL_MS) {
        logger.warn('ignored malformed messages on the denials channel', {
          channel: DENIALS_CHANNEL,
          count: malformed,
        });
        warnedAt = now();
        malformed = 0;
      }
      return;
    }
    if (from !== replica) history.recordDenial(agent);
  }

  return {
    recordDenial(agent) {
      history.recordDenial(agent);
      cache.publish(DENIALS_CHANNEL, JSON.stringify({ replica, agent })).then(
        () => {
          if (publishFailing) logger.info('refusals are shared with the other replicas again');
          publishFailing = false;
        },
        (error: unknown) => {
          if (publishFailing) return;
          publishFailing = true;
          logger.warn(
            'cannot tell the other replicas about refusals; each counts its own until the cache is back',
            { error: error instanceof Error ? error.message : String(error) },
          );
        },
      );
    },

    async start() {
      try {
        unsubscribe = await cache.subscribe(DENIALS_CHANNEL, received);
      } catch (error) {
        logger.error(
          "cannot subscribe to the other replicas' refusals; this replica counts its own only",
          { error: error instanceof Error ? error.message : String(error) },
        );
      }
    },

    async close() {
      const stop = unsubscribe;
      unsubscribe = undefined;
      await stop?.();
    },
  };
}
