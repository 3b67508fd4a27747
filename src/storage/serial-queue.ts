/**
 * Runs async jobs one at a time, in the order they were queued. The SQLite provider has one
 * connection; an open transaction owns it until it commits, so everything else waits here.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(job: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    return previous.then(job).finally(done);
  }

  /** Resolves once every job queued so far has finished. */
  drained(): Promise<void> {
    return this.tail;
  }
}
