/**
 * A view's data, loaded when it mounts and again after each change it makes: `reload` runs the
 * load and shows its failure; `act` clears the last error, runs a change, then reloads. What a
 * page or panel would otherwise write out again each time.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { messageOf } from './api';

export interface Reloading {
  error: string | undefined;
  setError(error: string | undefined): void;
  reload(): Promise<void>;
  act(work: () => Promise<unknown>): Promise<void>;
}

/** `load` must be stable (useCallback) and may throw: its failure becomes `error`. */
export function useReloading(load: () => Promise<void>): Reloading {
  const [error, setError] = useState<string>();
  const reload = useCallback(async () => {
    try {
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  }, [load]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const act = async (work: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await work();
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return { error, setError, reload, act };
}
