/**
 * Guards shared by both providers, so a mistake fails the same way on SQLite and PostgreSQL:
 *  - using the Database (instead of the `tx` client) inside `transaction(fn)`: on SQLite that
 *    would wait for the transaction it is part of (a deadlock), on PostgreSQL it would quietly
 *    run outside the transaction; both now throw at once;
 *  - using a `tx` client after its transaction has finished.
 */
import { createAsyncScope } from '../observability/async-scope';
import type { MigrationSession } from './migrate';
import type { RunResult, SqlClient, SqlValue } from './types';

export interface TransactionState {
  active: boolean;
}

/**
 * Knows whether the caller runs inside `transaction(fn)`. Backed by an AsyncLocalStorage that is
 * enabled only while a transaction is open (../observability/async-scope.ts), so the hot path,
 * which runs no transaction, pays nothing for the guard.
 */
export class TransactionScope {
  private readonly scope = createAsyncScope<TransactionState>();

  /** Throws when called from inside a running `transaction(fn)` of this database. */
  assertOutside(what: string): void {
    if (this.scope.current()?.active) {
      throw new Error(
        `${what} was called on the Database inside transaction(fn); use the client passed to fn (nested transactions are not supported)`,
      );
    }
  }

  /** Runs `fn` with a fresh state that is marked inactive when `fn` settles. */
  async run<T>(fn: (state: TransactionState) => Promise<T>): Promise<T> {
    const state: TransactionState = { active: true };
    try {
      return await this.scope.run(state, () => fn(state));
    } finally {
      state.active = false;
    }
  }
}

/** Wraps a transaction's session so that it refuses work once the transaction is over. */
export function guardedSession(
  state: TransactionState,
  session: MigrationSession,
): MigrationSession {
  const check = (): void => {
    if (!state.active) {
      throw new Error('this transaction has already finished; its client cannot be used any more');
    }
  };
  return {
    async all<T extends object>(sql: string, params?: SqlValue[]): Promise<T[]> {
      check();
      return session.all<T>(sql, params);
    },
    async get<T extends object>(sql: string, params?: SqlValue[]): Promise<T | undefined> {
      check();
      return session.get<T>(sql, params);
    },
    async run(sql: string, params?: SqlValue[]): Promise<RunResult> {
      check();
      return session.run(sql, params);
    },
    async exec(sql: string): Promise<void> {
      check();
      return session.exec(sql);
    },
  };
}

/** The public face of a session: `transaction(fn)` callers get no `exec`. */
export function clientOf(session: MigrationSession): SqlClient {
  return { all: session.all, get: session.get, run: session.run };
}
