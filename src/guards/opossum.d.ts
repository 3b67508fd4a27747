/**
 * The part of opossum 9 that ./circuit-breaker.ts uses (the package ships no types, and
 * @types/opossum is not installed). Delete this file if @types/opossum is ever added.
 */
declare module 'opossum' {
  import type { EventEmitter } from 'node:events';

  namespace CircuitBreaker {
    interface Options {
      /** Milliseconds before opossum fails a call itself; `false`: never. */
      timeout?: number | false;
      /** Milliseconds an open circuit waits before it goes half-open. */
      resetTimeout?: number;
      /** Opens when the window's failure rate is strictly above this (0–100). */
      errorThresholdPercentage?: number;
      /** Length of the rolling statistics window, in ms. */
      rollingCountTimeout?: number;
      rollingCountBuckets?: number;
      rollingPercentilesEnabled?: boolean;
      enableSnapshots?: boolean;
      /** Rotates the window's buckets on its `rotate` events instead of opossum's own interval. */
      rotateBucketController?: EventEmitter;
      /** True: the error is not a failure (opossum then counts the call as a success). */
      errorFilter?: (error: unknown) => boolean;
      name?: string;
    }

    /** Totals over the rolling window. */
    interface Stats {
      fires: number;
      failures: number;
      successes: number;
      rejects: number;
      timeouts: number;
    }
  }

  class CircuitBreaker<
    TArgs extends unknown[] = unknown[],
    TResult = unknown,
  > extends EventEmitter {
    constructor(action: (...args: TArgs) => Promise<TResult>, options?: CircuitBreaker.Options);
    /** True for the errors opossum raises itself (`EOPENBREAKER`, `ESHUTDOWN`, …). */
    static isOurError(error: unknown): boolean;
    readonly name: string;
    readonly closed: boolean;
    readonly opened: boolean;
    readonly halfOpen: boolean;
    /** Half-open and its one probe not yet taken. */
    readonly pendingClose: boolean;
    readonly isShutdown: boolean;
    readonly stats: CircuitBreaker.Stats;
    fire(...args: TArgs): Promise<TResult>;
    open(): void;
    close(): void;
    shutdown(): void;
  }

  export = CircuitBreaker;
}
