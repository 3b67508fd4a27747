import { createAsyncScope } from '../../src/observability/async-scope';
import {
  currentRequestId,
  newRequestId,
  openRequestScope,
} from '../../src/observability/request-context';

describe('async scope (AsyncLocalStorage enabled only while used)', () => {
  it('is seen across awaits inside run, and closed when the promise settles', async () => {
    const scope = createAsyncScope<{ id: string }>();
    const seen = await scope.run({ id: 'a' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(scope.openScopes).toBe(1);
      return scope.current()?.id;
    });
    expect(seen).toBe('a');
    expect(scope.openScopes).toBe(0);
    expect(scope.current()).toBeUndefined();
  });

  it('closes a scope whose function throws or whose promise rejects', async () => {
    const scope = createAsyncScope<number>();
    expect(() =>
      scope.run(1, () => {
        throw new Error('sync');
      }),
    ).toThrow('sync');
    expect(scope.openScopes).toBe(0);
    await expect(scope.run(2, async () => Promise.reject(new Error('async')))).rejects.toThrow(
      'async',
    );
    expect(scope.openScopes).toBe(0);
  });

  it('keeps nested and concurrent scopes apart, and stays enabled until the last one closes', async () => {
    const scope = createAsyncScope<string>();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const outer = scope.run('outer', async () => {
      const inner = scope.run('inner', () => scope.current());
      await gate;
      return [inner, scope.current()];
    });
    const other = await scope.run('other', async () => scope.current());
    expect(other).toBe('other');
    expect(scope.openScopes).toBe(1); // outer is still waiting
    release();
    expect(await outer).toEqual(['inner', 'outer']);
    expect(scope.openScopes).toBe(0);
  });

  it('open() keeps the scope until its close function is called, once', async () => {
    const scope = createAsyncScope<string>();
    let later: (() => string | undefined) | undefined;
    const close = scope.open('req-1', () => {
      later = () => scope.current();
    });
    const seenLater = await new Promise((resolve) =>
      scope.run('x', () => setImmediate(() => resolve(later?.()))),
    );
    // `later` was created in req-1's scope but runs in x's: the caller's context wins.
    expect(seenLater).toBe('x');
    expect(scope.openScopes).toBe(1);
    close();
    close();
    expect(scope.openScopes).toBe(0);
  });

  it('openRequestScope carries the request id into callbacks until closed', async () => {
    let close!: () => void;
    const seen = await new Promise<string | undefined>((resolve) => {
      close = openRequestScope('req-42', () => {
        setImmediate(() => resolve(currentRequestId()));
      });
    });
    expect(seen).toBe('req-42');
    close();
    expect(currentRequestId()).toBeUndefined();
  });
});

describe('request ids', () => {
  it('are 16 hex characters and unique over many calls', () => {
    const ids = Array.from({ length: 10_000 }, newRequestId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });
});
