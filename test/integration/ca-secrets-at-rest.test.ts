/**
 * The generated proxy CA on a real SQLite database with a real keyring: stored once, reloaded
 * unchanged after a restart, shared by two connections racing on an empty database, and its
 * private key nowhere in the database file, its WAL or the logs — searched line by line of the
 * PEM body, as one base64 run, and as DER bytes. The CA certificate, stored in clear, is
 * searched the same way and must be found, so a search that sees nothing cannot pass.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CA_KEY_AAD,
  CA_SETTING,
  loadCertificateAuthority,
  type CertificateAuthority,
} from '../../src/proxy/certificate-authority';
import { generateLeafKeyPair } from '../../src/proxy/key-pool';
import { openDatabase } from '../../src/storage';
import { createSettingsRepository } from '../../src/storage/settings-repository';
import type { Database } from '../../src/storage/types';
import type { Cipher } from '../../src/vault/crypto';
import { openKeyring } from '../../src/vault/keyring';
import { recordingLogger } from '../helpers/waiting-and-processes';
import { sqliteConfig } from './storage-test-helpers';
import { NO_CA_FILES } from '../helpers/certificates';
import { tempDir } from '../helpers/temp-dir';

let dir: string;
let file: string;
const open: Database[] = [];

beforeEach(() => {
  dir = tempDir('vectra-ca-at-rest-');
  file = join(dir, 'vectra.db');
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close().catch(() => undefined)));
  rmSync(dir, { recursive: true, force: true });
});

/** One "replica": its own connection to the file, the keyring opened from it. */
async function replica(logger = recordingLogger()) {
  const db = await openDatabase(sqliteConfig(`Data Source=${file}`));
  open.push(db);
  const settings = createSettingsRepository(db);
  const { cipher } = await openKeyring({ settings, dataDirectory: dir, masterPassword: 'pw-1' });
  const load = () => loadCertificateAuthority({ proxy: NO_CA_FILES, settings, cipher, logger });
  return { db, settings, cipher, logger, load };
}

function pemBody(pem: string): string[] {
  return pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
}

async function storedKeyPem(
  settings: ReturnType<typeof createSettingsRepository>,
  cipher: Cipher,
): Promise<string> {
  const row = JSON.parse((await settings.get(CA_SETTING)) as string);
  return cipher.decrypt(row.encryptedKey, CA_KEY_AAD);
}

describe('generated proxy CA at rest (SQLite)', () => {
  it('is reloaded unchanged after a restart, and its key is never on disk in clear', async () => {
    const first = await replica();
    const ca = await first.load();
    const keyPem = await storedKeyPem(first.settings, first.cipher);
    const keyDer = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
    const onDisk = (): Buffer =>
      Buffer.concat([file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));

    const expectClean = (bytes: Buffer, logs: string) => {
      expect(bytes.includes(Buffer.from(pemBody(ca.certPem)[3]))).toBe(true); // search sees text
      const lines = pemBody(keyPem);
      expect(lines.length).toBeGreaterThan(20);
      for (const line of lines) expect(bytes.includes(Buffer.from(line))).toBe(false);
      expect(bytes.includes(Buffer.from(lines.join('')))).toBe(false);
      expect(bytes.includes(keyDer.subarray(0, 64))).toBe(false);
      expect(bytes.includes(keyDer.subarray(keyDer.length - 64))).toBe(false);
      for (const line of lines) expect(logs).not.toContain(line);
      expect(logs).not.toContain('PRIVATE KEY');
    };

    expect(existsSync(`${file}-wal`)).toBe(true);
    expectClean(onDisk(), JSON.stringify(first.logger.lines)); // recent writes: in the WAL
    await first.db.close();
    expectClean(onDisk(), JSON.stringify(first.logger.lines)); // after the checkpoint

    const second = await replica();
    const reloaded: CertificateAuthority = await second.load();
    expect(reloaded.certPem).toBe(ca.certPem);
    // …and signs with the same key: its leaf verifies under the first start's certificate.
    const leafKey = await generateLeafKeyPair();
    const now = Date.now();
    const leaf = new X509Certificate(
      reloaded.issueLeaf('api.example.com', leafKey.publicKeyPem, {
        notBefore: new Date(now),
        notAfter: new Date(now + 3600_000),
      }),
    );
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(second.logger.lines.map((l) => l.message)).not.toContain('proxy CA generated');
  });

  it('two replicas racing on an empty database store one CA and both use it', async () => {
    const a = await replica();
    const b = await replica();
    const [caA, caB] = await Promise.all([a.load(), b.load()]);
    expect(caA.certPem).toBe(caB.certPem);
    const generated = [...a.logger.lines, ...b.logger.lines].filter(
      (l) => l.message === 'proxy CA generated',
    );
    expect(generated).toHaveLength(1);
    expect(await storedKeyPem(a.settings, a.cipher)).toBe(await storedKeyPem(b.settings, b.cipher));
  });
});
