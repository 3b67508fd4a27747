/**
 * The leaf certificate cache: one key per host, LRU eviction at its size, renewal inside the
 * renewal window (injected clock), concurrent first requests sharing one mint, and host names
 * normalised. The contexts are checked through the certificates the cache asked the CA for.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { loadCertificateAuthority } from '../../src/proxy/certificate-authority';
import type { CertificateAuthority, LeafValidity } from '../../src/proxy/certificate-authority';
import { createKeyPool, type KeyPool } from '../../src/proxy/key-pool';
import { createLeafCertificateCache, normalizeLeafHost } from '../../src/proxy/leaf-certificates';
import { createCipher } from '../../src/vault/crypto';
import { memorySettings } from '../helpers/settings';

const HOUR = 3600_000;

interface Issued {
  host: string;
  publicKeyPem: string;
  validity: LeafValidity;
  pem: string;
}

/** The real CA, recording each leaf it is asked for. */
function recordingCa(ca: CertificateAuthority): CertificateAuthority & { issued: Issued[] } {
  const issued: Issued[] = [];
  return {
    ...ca,
    issued,
    issueLeaf(host, publicKeyPem, validity) {
      const pem = ca.issueLeaf(host, publicKeyPem, validity);
      issued.push({ host, publicKeyPem, validity, pem });
      return pem;
    },
  };
}

let baseCa: CertificateAuthority;
let keys: KeyPool;
beforeAll(async () => {
  baseCa = await loadCertificateAuthority({
    proxy: { CaCertFile: '', CaKeyFile: '' },
    settings: memorySettings(),
    cipher: createCipher(randomBytes(32)),
  });
  keys = createKeyPool({ target: 4 });
});
afterAll(() => keys.close());

function setup(options: { size?: number; validityHours?: number } = {}) {
  let clock = Date.parse('2030-06-01T12:00:00Z');
  const ca = recordingCa(baseCa);
  const cache = createLeafCertificateCache({
    ca,
    size: options.size ?? 10,
    validityHours: options.validityHours ?? 72,
    now: () => new Date(clock),
    keys,
  });
  return {
    ca,
    cache,
    advance: (ms: number) => (clock += ms),
    at: () => clock,
  };
}

describe('leaf certificate cache', () => {
  it('mints a leaf per host, valid from now − 1 h for validityHours, signed by the CA', async () => {
    const { ca, cache, at } = setup({ validityHours: 72 });
    const context = await cache.secureContextFor('api.example.com');
    expect(context).toBeDefined();
    expect(ca.issued).toHaveLength(1);
    const [leaf] = ca.issued;
    expect(leaf.host).toBe('api.example.com');
    expect(leaf.validity.notBefore.getTime()).toBe(at() - HOUR);
    expect(leaf.validity.notAfter.getTime()).toBe(at() + 72 * HOUR);
    expect(new X509Certificate(leaf.pem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(
      true,
    );
    expect(await cache.secureContextFor('api.example.com')).toBe(context);
    expect(ca.issued).toHaveLength(1);
    expect(cache.has('api.example.com')).toBe(true);
    expect(cache.size()).toBe(1);
  });

  it('never gives two hosts (or a renewal) the same key', async () => {
    const { ca, cache, advance } = setup({ validityHours: 4 });
    await cache.secureContextFor('a.example.com');
    await cache.secureContextFor('b.example.com');
    advance(3.5 * HOUR); // inside a's renewal window
    await cache.secureContextFor('a.example.com');
    const publicKeys = ca.issued.map((i) => i.publicKeyPem);
    expect(ca.issued.map((i) => i.host)).toEqual([
      'a.example.com',
      'b.example.com',
      'a.example.com',
    ]);
    expect(new Set(publicKeys).size).toBe(3);
  });

  it('evicts the least recently used host when full', async () => {
    const { ca, cache } = setup({ size: 2 });
    await cache.secureContextFor('a.example.com');
    await cache.secureContextFor('b.example.com');
    await cache.secureContextFor('a.example.com'); // a is now the most recent
    await cache.secureContextFor('c.example.com'); // evicts b
    expect(cache.size()).toBe(2);
    expect(cache.has('a.example.com')).toBe(true);
    expect(cache.has('b.example.com')).toBe(false);
    expect(cache.has('c.example.com')).toBe(true);
    await cache.secureContextFor('b.example.com');
    expect(ca.issued.map((i) => i.host)).toEqual([
      'a.example.com',
      'b.example.com',
      'c.example.com',
      'b.example.com',
    ]);
  });

  it('renews in the last quarter of the validity, capped at 24 h', async () => {
    // 8 h leaves: renewal window 2 h (a quarter).
    const short = setup({ validityHours: 8 });
    const first = await short.cache.secureContextFor('h.example.com');
    short.advance(6 * HOUR - 1);
    expect(await short.cache.secureContextFor('h.example.com')).toBe(first);
    short.advance(1);
    expect(short.cache.has('h.example.com')).toBe(false);
    const renewed = await short.cache.secureContextFor('h.example.com');
    expect(renewed).not.toBe(first);
    expect(short.ca.issued).toHaveLength(2);
    expect(short.ca.issued[1].validity.notAfter.getTime()).toBe(short.at() + 8 * HOUR);

    // 240 h leaves: a quarter would be 60 h; the window is 24 h.
    const long = setup({ validityHours: 240 });
    const kept = await long.cache.secureContextFor('l.example.com');
    long.advance(216 * HOUR - 1);
    expect(await long.cache.secureContextFor('l.example.com')).toBe(kept);
    long.advance(1);
    expect(await long.cache.secureContextFor('l.example.com')).not.toBe(kept);
  });

  it('concurrent first requests for one host share one mint', async () => {
    const { ca, cache } = setup();
    const contexts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cache.secureContextFor(i % 2 ? 'Same.Example.COM' : 'same.example.com'),
      ),
    );
    expect(new Set(contexts).size).toBe(1);
    expect(ca.issued).toHaveLength(1);
  });

  it('normalises hosts: case, IPv6 brackets, a trailing dot', async () => {
    expect(normalizeLeafHost('API.Example.com.')).toBe('api.example.com');
    expect(normalizeLeafHost('[::1]')).toBe('::1');
    expect(normalizeLeafHost('[2001:DB8::1]')).toBe('2001:db8::1');
    const { ca, cache } = setup();
    const v6 = await cache.secureContextFor('[::1]');
    expect(await cache.secureContextFor('::1')).toBe(v6);
    await cache.secureContextFor('127.0.0.1');
    expect(ca.issued.map((i) => i.host)).toEqual(['::1', '127.0.0.1']);
  });

  it('refuses a host no certificate can name, and caches nothing for it', async () => {
    const { cache } = setup();
    await expect(cache.secureContextFor('not a host')).rejects.toMatchObject({
      code: 'VEC_REQUEST_MALFORMED',
    });
    expect(cache.size()).toBe(0);
  });

  it('close() empties the cache and refuses further use; it closes only a pool it made', async () => {
    const { cache } = setup();
    await cache.secureContextFor('a.example.com');
    cache.close();
    expect(cache.size()).toBe(0);
    await expect(cache.secureContextFor('a.example.com')).rejects.toThrow(/closed/);
    await expect(keys.take()).resolves.toHaveProperty('privateKeyPem'); // shared pool still open

    const own = createLeafCertificateCache({ ca: baseCa, size: 1, validityHours: 1 });
    await own.secureContextFor('b.example.com');
    own.close();
  });

  it('rejects a size or validity that cannot work', () => {
    expect(() =>
      createLeafCertificateCache({ ca: baseCa, size: 0, validityHours: 1, keys }),
    ).toThrow(RangeError);
    expect(() =>
      createLeafCertificateCache({ ca: baseCa, size: 1, validityHours: 0, keys }),
    ).toThrow(RangeError);
  });
});
