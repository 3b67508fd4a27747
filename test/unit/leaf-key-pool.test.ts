/**
 * The leaf key pool: filled in the background to its target, refilled after each take, never
 * hands out a key twice, generates on demand when empty, retries after a failed generation,
 * and stops on close().
 */
import { createPublicKey } from 'node:crypto';
import { createKeyPool, generateLeafKeyPair, type LeafKeyPair } from '../../src/proxy/key-pool';
import { waitFor } from '../helpers/waiting-and-processes';

/** A generator that counts calls and can be told to fail. */
function countingGenerator() {
  const state = { calls: 0, failNext: 0, made: [] as LeafKeyPair[] };
  const generate = async (): Promise<LeafKeyPair> => {
    state.calls += 1;
    if (state.failNext > 0) {
      state.failNext -= 1;
      throw new Error('generation failed');
    }
    const key = await generateLeafKeyPair();
    state.made.push(key);
    return key;
  };
  return { state, generate };
}

describe('leaf key pool', () => {
  it('generates ECDSA P-256 key pairs in PEM', async () => {
    const key = await generateLeafKeyPair();
    const publicKey = createPublicKey(key.publicKeyPem);
    expect(publicKey.asymmetricKeyType).toBe('ec');
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(key.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('fills to its target in the background and refills after each take', async () => {
    const { state, generate } = countingGenerator();
    const pool = createKeyPool({ target: 5, generate });
    await pool.ready();
    expect(pool.size()).toBe(5);
    expect(state.calls).toBe(5);

    const pooled = state.made.slice();
    const taken = await Promise.all([pool.take(), pool.take(), pool.take()]);
    // Served from the pool, oldest first; generation happens behind, off the request path.
    expect(taken).toEqual(pooled.slice(0, 3));
    expect(pool.size()).toBeLessThanOrEqual(3);
    await waitFor('the pool to refill', () => pool.size() === 5);
    expect(state.calls).toBe(8);
    pool.close();
  });

  it('never hands out the same key twice', async () => {
    const pool = createKeyPool({ target: 3 });
    await pool.ready();
    const keys = await Promise.all(Array.from({ length: 12 }, () => pool.take()));
    expect(new Set(keys.map((k) => k.publicKeyPem)).size).toBe(12);
    expect(new Set(keys.map((k) => k.privateKeyPem)).size).toBe(12);
    pool.close();
  });

  it('generates on demand when empty (target 0: no pooling at all)', async () => {
    const { state, generate } = countingGenerator();
    const pool = createKeyPool({ target: 0, generate });
    await pool.ready();
    expect(pool.size()).toBe(0);
    await pool.take();
    expect(state.calls).toBe(1);
    expect(pool.size()).toBe(0);
    pool.close();
  });

  it('retries after a failed generation', async () => {
    const { state, generate } = countingGenerator();
    state.failNext = 1;
    const pool = createKeyPool({ target: 2, generate, retryMs: 20 });
    await waitFor('the pool to fill after the retry', () => pool.size() === 2);
    expect(state.calls).toBe(3);
    pool.close();
  });

  it('close() drops the pooled keys, stops refilling and refuses take()', async () => {
    const { state, generate } = countingGenerator();
    const pool = createKeyPool({ target: 3, generate });
    await pool.ready();
    pool.close();
    expect(pool.size()).toBe(0);
    await expect(pool.take()).rejects.toThrow(/closed/);
    await pool.ready(); // resolves at once when closed
    expect(state.calls).toBe(3);
  });
});
