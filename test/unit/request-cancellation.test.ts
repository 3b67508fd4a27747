/**
 * RequestCancellation behaves as the AbortSignal the upstream client also takes: one
 * cancellation, listeners called in order, removed and late listeners never called.
 */
import { RequestCancellation } from '../../src/http/cancellation';

describe('RequestCancellation', () => {
  it('cancels once, calling its listeners in order with the reason recorded', () => {
    const cancellation = new RequestCancellation();
    const calls: string[] = [];
    cancellation.addEventListener('abort', () => calls.push(`a:${String(cancellation.reason)}`));
    cancellation.addEventListener('abort', () => calls.push('b'));
    expect(cancellation.aborted).toBe(false);
    cancellation.abort('gone');
    cancellation.abort('again');
    expect(cancellation.aborted).toBe(true);
    expect(cancellation.reason).toBe('gone');
    expect(calls).toEqual(['a:gone', 'b']);
  });

  it('never calls a removed listener, nor one added after the cancellation', () => {
    const cancellation = new RequestCancellation();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    cancellation.addEventListener('abort', removed);
    cancellation.addEventListener('abort', () => calls.push('kept'));
    cancellation.removeEventListener('abort', removed);
    cancellation.removeEventListener('abort', () => calls.push('never added'));
    cancellation.abort(new Error('gone'));
    cancellation.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual(['kept']);
  });

  it('goes through the same scenario as an AbortSignal with the same result', () => {
    function scenario(signal: AbortSignal | RequestCancellation, abort: (r: unknown) => void) {
      const calls: string[] = [];
      const first = () => calls.push(`first:${String(signal.reason)}`);
      const removed = () => calls.push('removed');
      signal.addEventListener('abort', first, { once: true });
      signal.addEventListener('abort', removed);
      signal.removeEventListener('abort', removed);
      signal.addEventListener('abort', () => calls.push(`aborted:${signal.aborted}`));
      abort('gone');
      abort('again');
      signal.addEventListener('abort', () => calls.push('late'));
      return [...calls, String(signal.reason)];
    }
    const controller = new AbortController();
    const cancellation = new RequestCancellation();
    const expected = scenario(controller.signal, (r) => controller.abort(r));
    expect(expected).toEqual(['first:gone', 'aborted:true', 'gone']);
    expect(scenario(cancellation, (r) => cancellation.abort(r))).toEqual(expected);
  });
});
