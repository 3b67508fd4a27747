/**
 * A request's cancellation: the exchange cancels it when the client closes its connection
 * before the whole answer is written, and the upstream client then gives up the call — an LLM
 * completion nobody will read is not waited for, nor paid for, to its end.
 *
 * It has the shape of an AbortSignal (./upstream-client CancelSignal), which the upstream client
 * also takes, without its cost: on Node 20, making an AbortSignal and adding and removing one
 * listener costs about 4 µs, a few percent of a proxied request; this is three fields.
 */
import type { CancelSignal } from './upstream-client';

export class RequestCancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  /** Cancels once: records `reason` and calls every listener, in the order they were added. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }

  /**
   * As AbortSignal: a listener added after the cancellation is never called; every listener is
   * called at most once (there is one cancellation), so `once` changes nothing.
   */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.listeners?.splice(index, 1);
  }
}
