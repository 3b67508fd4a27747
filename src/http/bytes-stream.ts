import { Readable } from 'node:stream';

/** A readable that yields `bytes` once: cheaper than Readable.from, and not in object mode. */
export function bytesStream(bytes: Buffer): Readable {
  return new Readable({
    read() {
      if (bytes.length > 0) this.push(bytes);
      this.push(null);
    },
  });
}
