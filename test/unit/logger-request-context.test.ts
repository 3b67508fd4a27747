import {
  acceptRequestId,
  currentRequestId,
  newRequestId,
  runWithRequestId,
} from '../../src/observability/request-context';

describe('request context', () => {
  it('mints 16 hex characters, different each time', () => {
    const ids = new Set(Array.from({ length: 100 }, newRequestId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });

  it.each(['abc', 'A-Z_a.z:0-9', 'x'.repeat(128), '7f3a9c2e-1b4d-4e8f-9a6b-0c5d3e2f1a7b'])(
    'reuses a well-formed incoming id %s',
    (id) => expect(acceptRequestId(id)).toBe(id),
  );

  it.each([
    undefined,
    '',
    'x'.repeat(129),
    'has space',
    'line\nbreak',
    'semi;colon',
    'ünïcode',
    '<script>',
  ])('replaces the incoming id %j with a fresh one', (id) =>
    expect(acceptRequestId(id)).toMatch(/^[0-9a-f]{16}$/),
  );

  it('replaces a repeated header with a fresh id', () => {
    expect(acceptRequestId(['a', 'b'])).toMatch(/^[0-9a-f]{16}$/);
  });

  it('knows the current id only inside runWithRequestId, and returns what fn returns', async () => {
    expect(currentRequestId()).toBeUndefined();
    const result = await runWithRequestId('outer', async () => {
      await Promise.resolve();
      const inner = runWithRequestId('inner', () => currentRequestId());
      return [currentRequestId(), inner];
    });
    expect(result).toEqual(['outer', 'inner']);
    expect(currentRequestId()).toBeUndefined();
  });
});
