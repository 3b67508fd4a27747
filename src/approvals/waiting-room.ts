/**
 * The requests this replica holds while a human decides: each waits on its approval's id until
 * a decision arrives (`release`, from this replica's decision, another replica's message or the
 * database poll), its hold time passes, its client leaves, or shutdown releases every wait.
 */
import type { Timers } from '../timers';
import type { StoredApproval } from './approval-repository';
import { effectiveStatus, publicView, withStatus } from './approval-status';
import type { Approval } from './types';

/** How a wait for a decision ended. */
export type WaitOutcome =
  | { kind: 'decided'; approval: Approval }
  | { kind: 'expired'; approval: Approval }
  | { kind: 'timeout' }
  | { kind: 'cancelled' };

export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface WaitingRoom {
  wait(id: string, holdMs: number, signal?: CancelSignal): Promise<WaitOutcome>;
  /** Ends the waits on `approval` once it is no longer pending. */
  release(approval: StoredApproval): void;
  /** The approvals some request waits on. */
  waitingIds(): string[];
  held(): number;
  /** Ends every wait as a timeout, and any later one at once (shutdown). */
  releaseAll(): void;
}

export function createWaitingRoom(options: {
  now: () => number;
  timers: Timers;
  /** How long an approved `once` approval stays usable. */
  usableMs: number;
}): WaitingRoom {
  const { now, timers, usableMs } = options;
  const waiters = new Map<string, Set<(approval: StoredApproval) => void>>();
  /** Ends each held request's wait as a timeout. */
  const holds = new Set<() => void>();
  let releasing = false;

  return {
    wait(id, holdMs, signal) {
      return new Promise<WaitOutcome>((resolve) => {
        let done = false;
        const finish = (outcome: WaitOutcome) => {
          if (done) return;
          done = true;
          timers.clearTimeout(timer);
          const waiting = waiters.get(id);
          waiting?.delete(onDecision);
          if (waiting?.size === 0) waiters.delete(id);
          signal?.removeEventListener('abort', onAbort);
          holds.delete(onRelease);
          resolve(outcome);
        };
        const onDecision = (approval: StoredApproval) => {
          const view = publicView(withStatus(approval, now(), usableMs));
          finish(
            effectiveStatus(approval, now()) === 'expired'
              ? { kind: 'expired', approval: view }
              : { kind: 'decided', approval: view },
          );
        };
        const onAbort = () => finish({ kind: 'cancelled' });
        const onRelease = () => finish({ kind: 'timeout' });
        holds.add(onRelease);
        const timer = timers.setTimeout(() => finish({ kind: 'timeout' }), holdMs);
        if (signal?.aborted) return finish({ kind: 'cancelled' });
        if (releasing) return finish({ kind: 'timeout' });
        signal?.addEventListener('abort', onAbort);
        let waiting = waiters.get(id);
        if (!waiting) waiters.set(id, (waiting = new Set()));
        waiting.add(onDecision);
      });
    },

    release(approval) {
      const waiting = waiters.get(approval.id);
      if (!waiting || effectiveStatus(approval, now()) === 'pending') return;
      waiters.delete(approval.id);
      for (const resolve of waiting) resolve(approval);
    },

    waitingIds: () => [...waiters.keys()],
    held: () => holds.size,

    releaseAll() {
      releasing = true;
      for (const release of [...holds]) release();
    },
  };
}
