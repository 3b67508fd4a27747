/**
 * The data key's lifecycle. Values at rest are encrypted with one random data key (./crypto);
 * the data key itself is stored in the settings row `keyring`, wrapped (AES-256-GCM) by a key
 * encryption key (KEK) that never touches the database:
 *
 *   - `password`: KEK = scrypt(Security.MasterPassword, salt), parameters stored with the row
 *     so they can be raised later without breaking existing databases;
 *   - `keyfile`:  KEK = 32 random bytes in `<DataDirectory>/master.key` (0600), created on the
 *     first start when no password is configured — convenient, but whoever copies the data
 *     directory has both lock and key, hence the warning shown in /health.
 *
 * Changing the password re-wraps the same data key, so credential rows are never rewritten.
 * The flip side: an old backup of the database still opens with the password (or key file)
 * that was current when it was made.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, GatewayError } from '../errors';
import { silentLogger, type Logger } from '../observability/types';
import type { SettingsRepository } from '../storage/types';
import { KEY_BYTES, createCipher, openBytes, sealBytes, type Cipher } from './crypto';

export type KeySource = 'password' | 'keyfile';

export interface ScryptParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
}

/** The JSON stored in the settings row `keyring`. */
export interface KeyringRecord {
  version: 1;
  wrap: KeySource;
  kdf?: ScryptParams;
  /** `<base64url iv>.<base64url ciphertext+tag>` of the data key under the KEK. */
  wrappedKey: string;
}

export interface OpenedKeyring {
  cipher: Cipher;
  source: KeySource;
  /** Set when the data key is protected only by the key file; shown by /health. */
  warning?: string;
}

export const KEYRING_SETTING = 'keyring';
export const KEY_FILE_NAME = 'master.key';
/**
 * ~32 MiB and ~0.1 s per derivation, paid once per start. Stored with each row, so raising
 * them later (OWASP now suggests N=2^17) needs only a re-wrap, not a migration.
 */
export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
/** A stored cost above this is refused before deriving: 1 GiB is far beyond any sane setting. */
const MAX_SCRYPT_MEMORY = 2 ** 30;
/** Binds the wrapped key to its purpose, so no other sealed value can stand in for it. */
const WRAP_AAD = 'vectra:keyring:data-key';

export function keyFilePath(dataDirectory: string): string {
  return resolve(dataDirectory, KEY_FILE_NAME);
}

export function keyFileWarning(path?: string): string {
  const file = path === undefined ? 'a key file' : `a key file (${path})`;
  return `credentials are encrypted with ${file} beside the database; set Security__MasterPassword to protect them with a password`;
}

/**
 * Opens (or, on an empty database, creates) the keyring. `masterPassword` is already resolved
 * from Security.MasterPassword or Security.MasterPasswordFile (resolveMasterPassword); empty
 * or undefined means "use the key file".
 */
export async function openKeyring(options: {
  settings: SettingsRepository;
  dataDirectory: string;
  masterPassword?: string;
  logger?: Logger;
}): Promise<OpenedKeyring> {
  const logger = options.logger ?? silentLogger;
  const password = options.masterPassword || undefined;
  const keyFile = keyFilePath(options.dataDirectory);
  let dataKey: Buffer;
  const stored = await options.settings.get(KEYRING_SETTING);
  if (stored === undefined) {
    const fresh = randomBytes(KEY_BYTES);
    const mine = JSON.stringify(await wrapDataKey(fresh, password, keyFile, logger));
    // Replicas starting together on one empty database: the first row written wins, and the
    // others unwrap that one instead of keeping a data key nobody else has.
    const winner = await options.settings.setIfAbsent(KEYRING_SETTING, mine);
    if (winner === mine) {
      logger.info('keyring created', { source: password ? 'password' : 'keyfile' });
      dataKey = fresh;
    } else {
      fresh.fill(0);
      dataKey = await unwrapDataKey(parseKeyringRecord(winner), password, keyFile);
    }
  } else {
    dataKey = await unwrapDataKey(parseKeyringRecord(stored), password, keyFile);
  }
  const cipher = createCipher(dataKey);
  dataKey.fill(0);
  if (password) return { cipher, source: 'password' };
  const warning = keyFileWarning(keyFile);
  logger.warn(warning, { keyFile });
  return { cipher, source: 'keyfile', warning };
}

/**
 * Re-wraps the data key under `next` (undefined: the key file, created when missing), after
 * unwrapping it with `current`. Rewrites only the settings row `keyring`, in one statement.
 */
export async function changeMasterPassword(options: {
  settings: SettingsRepository;
  dataDirectory: string;
  current?: string;
  next?: string;
}): Promise<{ source: KeySource }> {
  if (options.next === '') {
    throw new GatewayError(
      'VEC_REQUEST_INVALID',
      'the new master password is empty; supply a password, or switch to the key file',
      { context: { field: 'next' } },
    );
  }
  const keyFile = keyFilePath(options.dataDirectory);
  const stored = await options.settings.get(KEYRING_SETTING);
  if (stored === undefined) {
    throw new GatewayError(
      'VEC_MASTER_KEY_INVALID',
      'this database has no keyring yet, so there is no master password to change: check that the configuration points at the right database, or set Security__MasterPassword before the first start',
    );
  }
  const dataKey = await unwrapDataKey(
    parseKeyringRecord(stored),
    options.current || undefined,
    keyFile,
  );
  try {
    const record = await wrapDataKey(dataKey, options.next, keyFile, silentLogger);
    // No compare-and-set is needed: whatever a concurrent writer stored wraps this same data key.
    await options.settings.set(KEYRING_SETTING, JSON.stringify(record));
    return { source: record.wrap };
  } finally {
    dataKey.fill(0);
  }
}

/** Security.MasterPassword, or the first line of Security.MasterPasswordFile; undefined when neither is set. */
export async function resolveMasterPassword(security: {
  MasterPassword: string;
  MasterPasswordFile: string;
}): Promise<string | undefined> {
  const { MasterPassword: password, MasterPasswordFile: file } = security;
  if (password !== '' && file !== '') {
    throw passwordFileError('is set together with Security.MasterPassword; set only one of them');
  }
  if (password !== '') return password;
  if (file === '') return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw passwordFileError(`cannot read ${resolve(file)} (${code})`);
  }
  const firstLine = text
    .replace(/^\uFEFF/, '')
    .split('\n')[0]
    .replace(/\r$/, '');
  if (firstLine === '') {
    throw passwordFileError(`the first line of ${resolve(file)} is empty; put the password there`);
  }
  return firstLine;
}

/**
 * A ConfigError (VEC_CONFIG_INVALID), so the CLI exits 2 and lists it like any other bad key.
 * The path is not secret; the password is never part of the message.
 */
function passwordFileError(problem: string): ConfigError {
  return new ConfigError([
    {
      key: 'Security.MasterPasswordFile',
      envVar: 'Security__MasterPasswordFile',
      source: 'configuration',
      message: problem,
    },
  ]);
}

async function wrapDataKey(
  dataKey: Buffer,
  password: string | undefined,
  keyFile: string,
  logger: Logger,
): Promise<KeyringRecord> {
  if (password) {
    const kdf: ScryptParams = {
      name: 'scrypt',
      ...DEFAULT_SCRYPT,
      salt: randomBytes(SALT_BYTES).toString('base64'),
    };
    const kek = await deriveKek(password, kdf);
    return { version: 1, wrap: 'password', kdf, wrappedKey: sealAndForget(kek, dataKey) };
  }
  const kek = await ensureKeyFile(keyFile, logger);
  return { version: 1, wrap: 'keyfile', wrappedKey: sealAndForget(kek, dataKey) };
}

function sealAndForget(kek: Buffer, dataKey: Buffer): string {
  try {
    return sealBytes(kek, dataKey, WRAP_AAD);
  } finally {
    kek.fill(0);
  }
}

/** The data key, or VEC_MASTER_KEY_INVALID saying what to supply — never a wrong key. */
async function unwrapDataKey(
  record: KeyringRecord,
  password: string | undefined,
  keyFile: string,
): Promise<Buffer> {
  let kek: Buffer;
  let wrongKey: string;
  if (record.wrap === 'password') {
    if (!password) {
      throw masterKeyError(
        'the keyring of this database is protected by a master password, and none is configured; set Security__MasterPassword (or Security__MasterPasswordFile) to the password it was created with',
      );
    }
    kek = await deriveKek(password, record.kdf as ScryptParams);
    wrongKey =
      'the master password does not open the keyring of this database; set Security__MasterPassword (or Security__MasterPasswordFile) to the password it was created with, or last changed to';
  } else {
    if (password) {
      throw masterKeyError(
        `the keyring of this database is protected by the key file ${keyFile}, not a password; unset Security__MasterPassword and Security__MasterPasswordFile (to protect it with a password, run \`vectra master-password change\` without them)`,
      );
    }
    kek = await readKeyFile(keyFile);
    wrongKey = `the key file ${keyFile} does not open the keyring of this database; restore the master.key that was created with it`;
  }
  let dataKey: Buffer;
  try {
    dataKey = openBytes(kek, record.wrappedKey, WRAP_AAD);
  } catch (error) {
    throw masterKeyError(wrongKey, error);
  } finally {
    kek.fill(0);
  }
  if (dataKey.length !== KEY_BYTES) throw corruptKeyring('the data key has the wrong length');
  return dataKey;
}

function deriveKek(password: string, kdf: ScryptParams): Promise<Buffer> {
  // NFC: the same password typed on another system must give the same key.
  const secret = Buffer.from(password.normalize('NFC'), 'utf8');
  const salt = Buffer.from(kdf.salt, 'base64');
  // Node's default maxmem (32 MiB) is just below what N=2^15, r=8 needs (128·N·r); allow twice that.
  const maxmem = 256 * kdf.N * kdf.r;
  return new Promise((done, fail) =>
    scrypt(secret, salt, KEY_BYTES, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem }, (error, key) =>
      error ? fail(error) : done(key),
    ),
  );
}

/** Reads the key file, creating it (0600, in a 0700 directory) when it does not exist yet. */
async function ensureKeyFile(path: string, logger: Logger): Promise<Buffer> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  try {
    // 'wx': never overwrite a key file, which may be the only way into some database.
    await writeFile(path, `${key.toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    logger.info('key file created', { keyFile: path });
    return key;
  } catch (error) {
    key.fill(0);
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = (await stat(path)).mode;
  if ((mode & 0o077) !== 0) {
    logger.warn('the key file is readable by other users', { keyFile: path });
  }
  return readKeyFile(path);
}

async function readKeyFile(path: string): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw masterKeyError(
      code === 'ENOENT'
        ? `the key file ${path} that protects the keyring of this database is missing; restore it (or, if the database was protected with a password, set Security__MasterPassword)`
        : `cannot read the key file ${path} (${code ?? String(error)})`,
      error,
    );
  }
  const encoded = text.trim();
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(encoded)) {
    throw masterKeyError(
      `the key file ${path} does not hold a base64 32-byte key; restore the original`,
    );
  }
  return Buffer.from(
    encoded,
    encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64',
  );
}

/** Validates the stored JSON, bounding the scrypt cost so a tampered row cannot exhaust memory. */
export function parseKeyringRecord(text: string): KeyringRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corruptKeyring('it is not JSON');
  }
  const record = value as Partial<KeyringRecord> | null;
  if (typeof record !== 'object' || record === null) throw corruptKeyring('it is not an object');
  if (record.version !== 1) {
    throw corruptKeyring(
      `version ${String(record.version)} is unknown (written by a newer Vectra?)`,
    );
  }
  if (typeof record.wrappedKey !== 'string') throw corruptKeyring('wrappedKey is missing');
  if (record.wrap === 'keyfile') {
    return { version: 1, wrap: 'keyfile', wrappedKey: record.wrappedKey };
  }
  if (record.wrap !== 'password') throw corruptKeyring('wrap must be password or keyfile');
  const kdf = record.kdf;
  const isInt = (x: unknown, min: number, max: number) =>
    typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
  if (
    kdf?.name !== 'scrypt' ||
    !isInt(kdf.N, 2 ** 10, 2 ** 22) ||
    (kdf.N & (kdf.N - 1)) !== 0 ||
    !isInt(kdf.r, 1, 32) ||
    !isInt(kdf.p, 1, 16) ||
    128 * kdf.N * kdf.r > MAX_SCRYPT_MEMORY ||
    typeof kdf.salt !== 'string' ||
    Buffer.from(kdf.salt, 'base64').length < 8
  ) {
    throw corruptKeyring('the scrypt parameters are missing or out of range');
  }
  const { N, r, p, salt } = kdf;
  return {
    version: 1,
    wrap: 'password',
    kdf: { name: 'scrypt', N, r, p, salt },
    wrappedKey: record.wrappedKey,
  };
}

function corruptKeyring(problem: string): GatewayError {
  return masterKeyError(
    `the keyring stored in this database (settings row ${KEYRING_SETTING}) is unreadable: ${problem}; restore the database from a backup`,
  );
}

function masterKeyError(message: string, cause?: unknown): GatewayError {
  return new GatewayError('VEC_MASTER_KEY_INVALID', message, { cause });
}
