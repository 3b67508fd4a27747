/**
 * The keyring on a real SQLite database: the data key is created once, wrapped by a password
 * or a key file, refused (never garbage) with the wrong one, and re-wrapped in place.
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { createSettingsRepository, openDatabase } from '../../src/storage';
import type { Database, SettingsRepository } from '../../src/storage/types';
import {
  DEFAULT_SCRYPT,
  KEYRING_SETTING,
  changeMasterPassword,
  openKeyring,
  resolveMasterPassword,
} from '../../src/vault/keyring';
import { recordingLogger } from '../helpers/waiting-and-processes';
import { tempDir } from '../helpers/temp-dir';

const AAD = 'credential:vault-1:STRIPE_KEY';
const SECRET = 'sk_live_planted_secret_4242';

let root: string;
let dataDirectory: string;
let keyFile: string;
let database: Database;
let settings: SettingsRepository;

beforeEach(async () => {
  root = tempDir('vectra-keyring-');
  // Not created yet: the keyring creates it (0700) for the key file.
  dataDirectory = join(root, 'state', 'data');
  keyFile = join(dataDirectory, 'master.key');
  const config: DatabaseConfig = {
    DefaultProvider: 'Sqlite',
    Providers: {
      Sqlite: { ConnectionString: `Data Source=${join(root, 'vectra.db')}` },
      Postgres: { ConnectionString: '' },
    },
  };
  database = await openDatabase(config);
  settings = createSettingsRepository(database);
});

afterEach(async () => {
  await database.close();
  rmSync(root, { recursive: true, force: true });
});

const open = (masterPassword?: string) => openKeyring({ settings, dataDirectory, masterPassword });
const storedRecord = async () => JSON.parse((await settings.get(KEYRING_SETTING)) ?? 'null');

/** Rejects with VEC_MASTER_KEY_INVALID and a message matching `message`. */
async function expectMasterKeyInvalid(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code: 'VEC_MASTER_KEY_INVALID', message });
}

describe('openKeyring with a key file (no master password)', () => {
  it('creates master.key (0600, directory 0700), warns, and stores the wrapped data key', async () => {
    const logger = recordingLogger();
    const keyring = await openKeyring({ settings, dataDirectory, logger });
    expect(keyring.source).toBe('keyfile');
    expect(keyring.warning).toBe(
      `credentials are encrypted with a key file (${keyFile}) beside the database; set Security__MasterPassword to protect them with a password`,
    );
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: keyring.warning }),
    );
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(dataDirectory).mode & 0o777).toBe(0o700);
    expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    const record = await storedRecord();
    expect(record).toEqual({ version: 1, wrap: 'keyfile', wrappedKey: expect.any(String) });
    expect(record.wrappedKey).toMatch(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  });

  it('reuses the key file and the data key on the next start', async () => {
    const first = await open();
    const sealed = first.cipher.encrypt(SECRET, AAD);
    const keyText = readFileSync(keyFile, 'utf8');
    const row = await settings.get(KEYRING_SETTING);
    const second = await open();
    expect(second.source).toBe('keyfile');
    expect(second.cipher.decrypt(sealed, AAD)).toBe(SECRET);
    expect(readFileSync(keyFile, 'utf8')).toBe(keyText);
    expect(await settings.get(KEYRING_SETTING)).toBe(row);
  });

  it('two processes starting on one empty database end up with the same data key', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    expect(b.cipher.decrypt(a.cipher.encrypt(SECRET, AAD), AAD)).toBe(SECRET);
    expect(a.cipher.decrypt(b.cipher.encrypt(SECRET, AAD), AAD)).toBe(SECRET);
  });

  it('refuses to start when the key file is missing, and does not create a new one', async () => {
    await open();
    rmSync(keyFile);
    await expectMasterKeyInvalid(open(), /key file .*master\.key .* is missing; restore it/);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('refuses another key file', async () => {
    await open();
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await expectMasterKeyInvalid(open(), /key file .*master\.key does not open the keyring/);
  });

  it('refuses a key file that does not hold a 32-byte key', async () => {
    await open();
    writeFileSync(keyFile, 'not a key\n');
    await expectMasterKeyInvalid(open(), /does not hold a base64 32-byte key/);
  });

  it('refuses a master password when the keyring is protected by the key file', async () => {
    await open();
    await expectMasterKeyInvalid(
      open('a password'),
      /protected by the key file .*master\.key, not a password; unset Security__MasterPassword/,
    );
  });
});

describe('openKeyring with a master password', () => {
  it('stores the scrypt parameters and salt, creates no key file and gives no warning', async () => {
    const keyring = await open('correct horse');
    expect(keyring).toEqual({ cipher: expect.any(Object), source: 'password' });
    expect(existsSync(keyFile)).toBe(false);
    const record = await storedRecord();
    expect(record).toEqual({
      version: 1,
      wrap: 'password',
      kdf: { name: 'scrypt', ...DEFAULT_SCRYPT, salt: expect.any(String) },
      wrappedKey: expect.any(String),
    });
    expect(DEFAULT_SCRYPT).toEqual({ N: 2 ** 15, r: 8, p: 1 });
    expect(Buffer.from(record.kdf.salt, 'base64').length).toBeGreaterThanOrEqual(16);
  });

  it('opens again with the same password', async () => {
    const sealed = (await open('correct horse')).cipher.encrypt(SECRET, AAD);
    expect((await open('correct horse')).cipher.decrypt(sealed, AAD)).toBe(SECRET);
  });

  it('treats an empty password as none (key file)', async () => {
    expect((await open('')).source).toBe('keyfile');
  });

  it('refuses a wrong password with VEC_MASTER_KEY_INVALID, never a cipher', async () => {
    await open('correct horse');
    const row = await settings.get(KEYRING_SETTING);
    await expectMasterKeyInvalid(
      open('Correct horse'),
      /master password does not open the keyring .* set Security__MasterPassword/,
    );
    expect(await settings.get(KEYRING_SETTING)).toBe(row);
  });

  it('refuses to start without a password, even when a key file lies around', async () => {
    await open('correct horse');
    mkdirSync(dataDirectory, { recursive: true });
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await expectMasterKeyInvalid(open(), /protected by a master password, and none is configured/);
    await expectMasterKeyInvalid(open(''), /protected by a master password/);
  });

  it('keeps the password and the secret out of the database files and the logs', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const logger = recordingLogger();
    const keyring = await openKeyring({
      settings,
      dataDirectory,
      masterPassword: password,
      logger,
    });
    await settings.set('probe', keyring.cipher.encrypt(SECRET, AAD));
    // The database, its WAL and shared-memory files: whatever SQLite has written so far.
    for (const name of readdirSync(root).filter((n) => n.startsWith('vectra.db'))) {
      const bytes = readFileSync(join(root, name));
      expect(bytes.includes(password)).toBe(false);
      expect(bytes.includes(SECRET)).toBe(false);
    }
    expect(JSON.stringify(logger.lines)).not.toContain(password);
  });
});

describe('a damaged keyring row', () => {
  it.each([
    ['not JSON', '{'],
    ['a newer version', JSON.stringify({ version: 2, wrap: 'keyfile', wrappedKey: 'x.y' })],
    ['an unknown wrap', JSON.stringify({ version: 1, wrap: 'kms', wrappedKey: 'x.y' })],
    [
      'an absurd scrypt cost (refused before deriving)',
      JSON.stringify({
        version: 1,
        wrap: 'password',
        kdf: { name: 'scrypt', N: 2 ** 30, r: 8, p: 1, salt: 'c2FsdHNhbHRzYWx0' },
        wrappedKey: 'x.y',
      }),
    ],
  ])('is refused with VEC_MASTER_KEY_INVALID: %s', async (_name, value) => {
    await settings.set(KEYRING_SETTING, value);
    await expectMasterKeyInvalid(open('pw'), /keyring stored in this database .* is unreadable/);
  });

  it('with a tampered wrapped key is refused', async () => {
    await open('correct horse');
    const record = await storedRecord();
    const [iv, body] = record.wrappedKey.split('.');
    const bytes = Buffer.from(body, 'base64url');
    bytes[0] ^= 1;
    record.wrappedKey = `${iv}.${bytes.toString('base64url')}`;
    await settings.set(KEYRING_SETTING, JSON.stringify(record));
    await expectMasterKeyInvalid(open('correct horse'), /does not open the keyring/);
  });
});

describe('changeMasterPassword', () => {
  const change = (current: string | undefined, next: string | undefined) =>
    changeMasterPassword({ settings, dataDirectory, current, next });

  it('re-wraps the same data key: the old password fails, the new one opens old ciphertexts', async () => {
    const sealed = (await open('old password')).cipher.encrypt(SECRET, AAD);
    const before = await storedRecord();
    expect(await change('old password', 'new password')).toEqual({ source: 'password' });
    const after = await storedRecord();
    expect(after.wrappedKey).not.toBe(before.wrappedKey);
    expect(after.kdf.salt).not.toBe(before.kdf.salt);
    await expectMasterKeyInvalid(open('old password'), /does not open the keyring/);
    expect((await open('new password')).cipher.decrypt(sealed, AAD)).toBe(SECRET);
  });

  it('refuses a wrong current password and leaves the row alone', async () => {
    await open('old password');
    const row = await settings.get(KEYRING_SETTING);
    await expectMasterKeyInvalid(change('wrong', 'new password'), /does not open the keyring/);
    await expectMasterKeyInvalid(change(undefined, 'new password'), /none is configured/);
    expect(await settings.get(KEYRING_SETTING)).toBe(row);
  });

  it('switches to the key file and back, keeping every ciphertext readable', async () => {
    const sealed = (await open('old password')).cipher.encrypt(SECRET, AAD);
    expect(await change('old password', undefined)).toEqual({ source: 'keyfile' });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    await expectMasterKeyInvalid(open('old password'), /protected by the key file/);
    const viaKeyFile = await open();
    expect(viaKeyFile.source).toBe('keyfile');
    expect(viaKeyFile.cipher.decrypt(sealed, AAD)).toBe(SECRET);

    expect(await change(undefined, 'another password')).toEqual({ source: 'password' });
    await expectMasterKeyInvalid(open(), /protected by a master password/);
    expect((await open('another password')).cipher.decrypt(sealed, AAD)).toBe(SECRET);
  });

  it('from the key file needs the key file', async () => {
    await open();
    rmSync(keyFile);
    await expectMasterKeyInvalid(change(undefined, 'new password'), /is missing/);
  });

  it('refuses an empty new password', async () => {
    await open('old password');
    await expect(change('old password', '')).rejects.toMatchObject({
      code: 'VEC_REQUEST_INVALID',
      context: { field: 'next' },
    });
  });

  it('refuses a database without a keyring instead of creating one', async () => {
    await expectMasterKeyInvalid(change(undefined, 'new password'), /has no keyring yet/);
    expect(await settings.get(KEYRING_SETTING)).toBeUndefined();
  });
});

describe('resolveMasterPassword', () => {
  const passwordFile = (text: string) => {
    const path = join(root, 'master-password.txt');
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  it('is undefined when neither key is set', async () => {
    await expect(
      resolveMasterPassword({ MasterPassword: '', MasterPasswordFile: '' }),
    ).resolves.toBe(undefined);
  });

  it('returns Security.MasterPassword as it is', async () => {
    await expect(
      resolveMasterPassword({ MasterPassword: ' spaced pw ', MasterPasswordFile: '' }),
    ).resolves.toBe(' spaced pw ');
  });

  it.each([
    ['with a newline', 'from file\n', 'from file'],
    ['with CRLF and more lines', 'from file\r\nsecond line\n', 'from file'],
    ['without a newline', 'from file', 'from file'],
    ['with a BOM', '\uFEFFfrom file\n', 'from file'],
  ])('reads the first line of Security.MasterPasswordFile %s', async (_name, text, expected) => {
    await expect(
      resolveMasterPassword({ MasterPassword: '', MasterPasswordFile: passwordFile(text) }),
    ).resolves.toBe(expected);
  });

  it('opens a keyring created with the same password given directly', async () => {
    const sealed = (await open('from file')).cipher.encrypt(SECRET, AAD);
    const password = await resolveMasterPassword({
      MasterPassword: '',
      MasterPasswordFile: passwordFile('from file\n'),
    });
    expect((await open(password)).cipher.decrypt(sealed, AAD)).toBe(SECRET);
  });

  it.each([
    [
      'an unreadable file',
      () => join(root, 'missing.txt'),
      /cannot read .*missing\.txt \(ENOENT\)/,
    ],
    ['an empty first line', () => passwordFile('\nsecond'), /first line of .* is empty/],
  ])('refuses %s with VEC_CONFIG_INVALID naming the key', async (_name, path, message) => {
    const error = await resolveMasterPassword({
      MasterPassword: '',
      MasterPasswordFile: path(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({
      code: 'VEC_CONFIG_INVALID',
      problems: [
        {
          key: 'Security.MasterPasswordFile',
          envVar: 'Security__MasterPasswordFile',
          message: expect.stringMatching(message),
        },
      ],
    });
  });

  it('refuses both keys at once', async () => {
    await expect(
      resolveMasterPassword({ MasterPassword: 'a', MasterPasswordFile: passwordFile('b') }),
    ).rejects.toMatchObject({
      code: 'VEC_CONFIG_INVALID',
      problems: [
        {
          key: 'Security.MasterPasswordFile',
          message: expect.stringMatching(/set only one of them/),
        },
      ],
    });
  });
});
