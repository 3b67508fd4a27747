/**
 * Leaf key pairs generated ahead of need, so that a first request to a new host does not wait
 * for key generation. ECDSA P-256: a fraction of a millisecond on libuv's thread pool (RSA 2048
 * takes ~50 ms), and a faster TLS handshake too.
 *
 * Each key leaves the pool exactly once: take() removes it, so no two hosts (and no renewal)
 * ever share a key. A compromised leaf key exposes one host, not all of them.
 */
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

export interface LeafKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

export interface KeyPool {
  /** A key nobody else has been given: from the pool at once, or generated when it is empty. */
  take(): Promise<LeafKeyPair>;
  /** Keys ready now. */
  size(): number;
  /** Resolves when the pool holds its target (or is closed); for start-up and benchmarks. */
  ready(): Promise<void>;
  /** Stops refilling and drops the pooled keys; take() then rejects. */
  close(): void;
}

export interface KeyPoolOptions {
  /** Keys kept ready; 8 by default. 0 disables pooling (every take() generates). */
  target?: number;
  /** Injected by tests; ECDSA P-256 by default. */
  generate?: () => Promise<LeafKeyPair>;
  /** Wait before retrying after a failed generation (default 1 s). */
  retryMs?: number;
}

const DEFAULT_TARGET = 8;
const generateKeyPairAsync = promisify(generateKeyPair);

export async function generateLeafKeyPair(): Promise<LeafKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

export function createKeyPool(options: KeyPoolOptions = {}): KeyPool {
  const target = options.target ?? DEFAULT_TARGET;
  const generate = options.generate ?? generateLeafKeyPair;
  const retryMs = options.retryMs ?? 1000;
  const keys: LeafKeyPair[] = [];
  let filling = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let waiters: Array<() => void> = [];

  const settle = () => {
    if (!closed && keys.length < target) return;
    const done = waiters;
    waiters = [];
    for (const wake of done) wake();
  };

  // One generation at a time: the pool refills between requests without crowding the thread
  // pool that DNS lookups and file I/O share.
  async function fill(): Promise<void> {
    if (filling || closed || retry) return;
    filling = true;
    try {
      while (!closed && keys.length < target) {
        const key = await generate();
        if (!closed) keys.push(key);
        settle();
      }
    } catch {
      // Try again later; meanwhile take() generates on demand (and reports its own error).
      retry = setTimeout(() => {
        retry = undefined;
        void fill();
      }, retryMs);
      retry.unref();
    } finally {
      filling = false;
      settle();
    }
  }

  void fill();
  return {
    async take() {
      if (closed) throw new Error('the leaf key pool is closed');
      const key = keys.shift();
      void fill();
      return key ?? generate();
    },
    size: () => keys.length,
    ready() {
      if (closed || keys.length >= target) return Promise.resolve();
      return new Promise((wake) => waiters.push(wake));
    },
    close() {
      closed = true;
      keys.length = 0;
      if (retry) clearTimeout(retry);
      retry = undefined;
      settle();
    },
  };
}
