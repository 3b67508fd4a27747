/**
 * For a describe block: starts something closeable (a server, a fake) before all its tests, or
 * before each test with `'each'`, and closes it after. The returned function reads the one
 * running, so the block needs no `let` and no hooks of its own.
 */
export function startedAround<T extends { close(): unknown }>(
  start: () => Promise<T>,
  scope: 'all' | 'each' = 'all',
): () => T {
  let running: T | undefined;
  const [before, after] = scope === 'all' ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    running = await start();
  });
  after(async () => {
    const closing = running;
    running = undefined;
    await closing?.close();
  });
  return () => {
    if (running === undefined) throw new Error('startedAround: read outside its tests');
    return running;
  };
}
