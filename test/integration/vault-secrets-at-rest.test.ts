/**
 * Planted secrets: a random credential value and a freshly minted agent token are stored, used
 * (resolved, authenticated), and then searched for in what an attacker with the disk or a
 * backup would get: the SQLite file and its WAL, and a `pg_dump` of the PostgreSQL database.
 * Zero occurrences, in plain text and in base64. A marker stored in clear (the vault's name) is
 * searched the same way and must be found, so a search that can see nothing cannot pass.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MemoryCache } from '../../src/cache/memory';
import type { DatabaseConfig } from '../../src/config/schema';
import { openDatabase } from '../../src/storage';
import type { Database } from '../../src/storage/types';
import { createCipher } from '../../src/vault/crypto';
import { createVaultServices } from '../helpers/vault-services';
import { createPostgresDatabase, describeWith } from '../helpers/services';
import { recordingLogger } from '../helpers/waiting-and-processes';
import { postgresConfig, sqliteConfig } from './storage-test-helpers';
import { tempDir } from '../helpers/temp-dir';

const PG_DUMP = '/usr/bin/pg_dump';

interface Planted {
  secret: string;
  token: string;
  marker: string;
  logText: string;
}

/** Stores and uses a planted credential and agent token through the VaultService. */
async function plant(config: DatabaseConfig): Promise<{ db: Database; planted: Planted }> {
  const db = await openDatabase(config);
  const cache = new MemoryCache({ sweepIntervalMs: 0 });
  const logger = recordingLogger();
  const vaults = createVaultServices({ db, cipher: createCipher(randomBytes(32)), cache, logger });
  const secret = `planted-${randomBytes(16).toString('hex')}`;
  const marker = `marker-${randomBytes(6).toString('hex')}`;
  await vaults.createVault({ name: marker });
  await vaults.setCredential(marker, 'API_KEY', secret);
  await vaults.setCredential(marker, 'API_KEY', secret); // an update writes it again
  await vaults.createService(marker, {
    name: 'api',
    host: 'api.example.com',
    auth: { type: 'bearer', credential: 'API_KEY' },
  });
  expect((await vaults.resolveCredentials(marker, ['API_KEY'])).get('API_KEY')).toBe(secret);
  const { token } = await vaults.createAgent({ name: 'bot', vaults: [marker] });
  expect(await vaults.authenticate(token)).toBeDefined();
  await vaults.close();
  await cache.close();
  return { db, planted: { secret, token, marker, logText: JSON.stringify(logger.lines) } };
}

/** Every form a leaked value could take in the bytes searched. */
function forms(value: string): Buffer[] {
  return [Buffer.from(value), Buffer.from(Buffer.from(value).toString('base64'))];
}

function expectClean(bytes: Buffer, planted: Planted): void {
  expect(bytes.includes(Buffer.from(planted.marker))).toBe(true); // the search sees clear text
  for (const form of [...forms(planted.secret), ...forms(planted.token)]) {
    expect(bytes.includes(form)).toBe(false);
  }
  expect(planted.logText).not.toContain(planted.secret);
  expect(planted.logText).not.toContain(planted.token);
}

describe('planted secrets at rest: SQLite', () => {
  let dir: string;

  beforeEach(() => {
    dir = tempDir('vectra-planted-');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('neither the database file nor its WAL holds the credential or the token', async () => {
    const file = join(dir, 'vectra.db');
    const { db, planted } = await plant(sqliteConfig(`Data Source=${file}`));
    const onDisk = (): Buffer =>
      Buffer.concat([file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    expect(existsSync(`${file}-wal`)).toBe(true);
    expectClean(onDisk(), planted); // while open: the recent writes are in the WAL
    await db.close();
    expectClean(onDisk(), planted); // after the checkpoint into the main file
    // The token's hash is what is stored.
    const hash = createHash('sha256').update(planted.token).digest('hex');
    expect(onDisk().includes(Buffer.from(hash))).toBe(true);
  });
});

describeWith('postgres')('planted secrets at rest: PostgreSQL', () => {
  it('a pg_dump of the database holds neither the credential nor the token', async () => {
    const database = await createPostgresDatabase();
    try {
      const { db, planted } = await plant(postgresConfig(database.url));
      await db.close();
      const url = new URL(database.url);
      const { stdout } = await promisify(execFile)(
        PG_DUMP,
        [
          '-h',
          url.hostname,
          '-p',
          url.port || '5432',
          '-U',
          decodeURIComponent(url.username),
          database.name,
        ],
        {
          env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) },
          maxBuffer: 64 * 1024 * 1024,
          encoding: 'buffer',
        },
      );
      expectClean(stdout, planted);
      const hash = createHash('sha256').update(planted.token).digest('hex');
      expect(stdout.includes(Buffer.from(hash))).toBe(true);
    } finally {
      await database.drop();
    }
  });
});
