/**
 * How long the first request to a new host waits for its TLS identity: secureContextFor() on
 * a host never seen before, with a warm key pool (the pool is refilled, untimed, between
 * samples). Also split into its parts (taking a pooled key, signing the leaf, building the
 * SecureContext), plus the cold path (empty pool: key generated on the request path) and a
 * cache hit. Run: `npx ts-node bench/leaf-mint.ts [samples]`.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';
import { loadCertificateAuthority } from '../src/proxy/certificate-authority';
import { createKeyPool } from '../src/proxy/key-pool';
import { createLeafCertificateCache } from '../src/proxy/leaf-certificates';
import type { SettingsRepository } from '../src/storage/types';
import { createCipher } from '../src/vault/crypto';

const SAMPLES = Number(process.argv[2] ?? 500);
const WARMUP = 50;

function settingsInMemory(): SettingsRepository {
  const rows = new Map<string, string>();
  return {
    get: async (k) => rows.get(k),
    set: async (k, v) => void rows.set(k, v),
    setIfAbsent: async (k, v) => (rows.has(k) ? (rows.get(k) as string) : (rows.set(k, v), v)),
    delete: async (k) => rows.delete(k),
    list: async () => [],
  };
}

function summary(name: string, ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const cells = [mean, at(0.5), at(0.99)].map((v) => v.toFixed(3).padStart(8));
  return `${name.padEnd(42)}${cells.join('  ')}`;
}

/** Times `once` SAMPLES times after a warm-up; `between` runs untimed before each call. */
async function time(once: (i: number) => Promise<unknown>, between?: () => Promise<void>) {
  const ms: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    if (between) await between();
    const start = performance.now();
    await once(i);
    if (i >= WARMUP) ms.push(performance.now() - start);
  }
  return ms;
}

async function main(): Promise<void> {
  const ca = await loadCertificateAuthority({
    proxy: { CaCertFile: '', CaKeyFile: '' },
    settings: settingsInMemory(),
    cipher: createCipher(randomBytes(32)),
  });
  const keys = createKeyPool({ target: 8 });
  const cache = createLeafCertificateCache({ ca, size: 100_000, validityHours: 72, keys });
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 72 * 3600_000) };
  const warm = () => keys.ready();
  const cold = createKeyPool({ target: 0 });
  const coldCache = createLeafCertificateCache({
    ca,
    size: 100_000,
    validityHours: 72,
    keys: cold,
  });
  const key = await keys.take();
  let leafPem = '';
  const cases: Array<[string, (i: number) => Promise<unknown>, (() => Promise<void>)?]> = [
    [
      'secureContextFor(new host), warm pool',
      (i) => cache.secureContextFor(`h${i}.warm.test`),
      warm,
    ],
    ['  keys.take() (pooled)', () => keys.take(), warm],
    [
      '  ca.issueLeaf() (forge TBS + native sign)',
      async (i) => (leafPem = ca.issueLeaf(`h${i}.sign.test`, key.publicKeyPem, validity)),
    ],
    [
      '  tls.createSecureContext()',
      async () => createSecureContext({ key: key.privateKeyPem, cert: leafPem + ca.certPem }),
    ],
    ['secureContextFor(cached host)', () => cache.secureContextFor('h1.warm.test')],
    [
      'secureContextFor(new host), empty pool',
      (i) => coldCache.secureContextFor(`h${i}.cold.test`),
    ],
  ];
  const rows: string[] = [];
  for (const [name, once, between] of cases) rows.push(summary(name, await time(once, between)));

  console.log(`leaf minting: ${SAMPLES} samples each (after ${WARMUP} warm-up), milliseconds`);
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(`${''.padEnd(42)}${['mean', 'p50', 'p99'].map((h) => h.padStart(8)).join('  ')}`);
  for (const row of rows) console.log(row);
  cache.close();
  coldCache.close();
  keys.close();
  cold.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
