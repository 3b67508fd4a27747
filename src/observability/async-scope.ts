/**
 * AsyncLocalStorage that is enabled only while someone uses it.
 *
 * On Node 20 an AsyncLocalStorage, once `run` has been called, keeps async hooks (promise hooks
 * included) installed for the whole process: every promise created anywhere, by any request,
 * pays for propagating the store. `disable()` removes them again when no other storage is
 * enabled. This wrapper counts open scopes and disables the storage when the count returns to
 * zero, so the cost is paid only while a scope is open.
 *
 * The trade-off: work that outlives its scope (a callback scheduled by a request that has
 * already finished) no longer sees the store. Every user here closes its scope when the work
 * it describes is over, which is when nothing should read it any more.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isThenable } from '../thenable';

export interface AsyncScope<T> {
  /** Runs `fn` with `store`; the scope closes when `fn` returns or its promise settles. */
  run<R>(store: T, fn: () => R): R;
  /** Runs `fn` with `store`; the scope stays open until the returned function is called once. */
  open(store: T, fn: () => void): () => void;
  /** The innermost open scope's store seen from here, or undefined. */
  current(): T | undefined;
  /** Open scopes, for tests. */
  readonly openScopes: number;
}

export function createAsyncScope<T>(): AsyncScope<T> {
  const storage = new AsyncLocalStorage<T>();
  let open = 0;

  const close = (): void => {
    open -= 1;
    if (open === 0) storage.disable();
  };

  return {
    run(store, fn) {
      open += 1;
      let result: unknown;
      try {
        result = storage.run(store, fn);
      } catch (error) {
        close();
        throw error;
      }
      if (isThenable(result)) {
        // Closed once the work settles; the caller's promise (and its rejection) is returned as is.
        result.then(close, close);
      } else {
        close();
      }
      return result as ReturnType<typeof fn>;
    },
    open(store, fn) {
      open += 1;
      let closed = false;
      const done = (): void => {
        if (closed) return;
        closed = true;
        close();
      };
      try {
        storage.run(store, fn);
      } catch (error) {
        done();
        throw error;
      }
      return done;
    },
    current: () => (open === 0 ? undefined : storage.getStore()),
    get openScopes() {
      return open;
    },
  };
}
