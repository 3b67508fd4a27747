/**
 * The steps that undo start-up. Each part of the gateway defers its own step as it starts;
 * they run once, in reverse order, and a failing step is logged without stopping the rest.
 */
import type { Logger } from '../observability/types';

export type Defer = (step: () => Promise<void>) => void;

export interface Shutdown {
  defer: Defer;
  run(): Promise<void>;
}

export function createShutdown(logger: Logger): Shutdown {
  const steps: Array<() => Promise<void>> = [];
  return {
    defer: (step) => void steps.push(step),
    async run() {
      for (const step of steps.reverse())
        await step().catch((err) => logger.error('shutdown step failed', { err }));
    },
  };
}
