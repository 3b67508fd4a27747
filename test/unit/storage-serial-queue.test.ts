import { SerialQueue } from '../../src/storage/serial-queue';

describe('SerialQueue', () => {
  it('runs jobs one at a time in call order, each to completion, even when one fails', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = queue.run(async () => {
      events.push('first start');
      await gate;
      events.push('first end');
      throw new Error('first failed');
    });
    const second = queue.run(() => {
      events.push('second');
      return 2;
    });
    const third = queue.run(async () => {
      events.push('third');
      return 3;
    });
    release();
    await expect(first).rejects.toThrow('first failed');
    await expect(second).resolves.toBe(2);
    await expect(third).resolves.toBe(3);
    expect(events).toEqual(['first start', 'first end', 'second', 'third']);
  });

  it('drained() waits for what is queued', async () => {
    const queue = new SerialQueue();
    let done = false;
    void queue.run(async () => {
      await new Promise(setImmediate);
      done = true;
    });
    await queue.drained();
    expect(done).toBe(true);
  });
});
