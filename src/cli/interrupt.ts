/** Ctrl-C for the commands that follow a stream until the user stops them. */

/** Calls `stop` on Ctrl-C; returns a function that removes the hook. */
export type OnInterrupt = (stop: () => void) => () => void;

/** The default: SIGINT or SIGTERM. */
export const onSignals: OnInterrupt = (stop) => {
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
};

/** A signal that aborts on Ctrl-C (`onInterrupt`), and `release`, which removes the hook. */
export function abortOnInterrupt(onInterrupt: OnInterrupt = onSignals): {
  signal: AbortSignal;
  release(): void;
} {
  const abort = new AbortController();
  const release = onInterrupt(() => abort.abort());
  return { signal: abort.signal, release };
}
